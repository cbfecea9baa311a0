/* version.h - the relay's version, reported by /health and --version. */
#ifndef RELAY_VERSION_H
#define RELAY_VERSION_H
#define RELAY_VERSION "0.1.0"
#endif
