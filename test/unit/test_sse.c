/*
 * test_sse.c - lib/sse: a recorded Anthropic Messages stream must give the
 * same events however it is cut into chunks, plus the WHATWG corner cases
 * (CR/LF variants, BOM, comments, id, bounds) and the encoder round trip.
 */
#include "compat.h"
#include "buf.h"
#include "errs.h"
#include "harness.h"
#include "sse.h"

/* A real /v1/messages stream (stream: true), with the ping and a comment line. */
static const char anthropic_stream[] =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_01XFDUDYJgAACzvnptvVoYEL\","
    "\"type\":\"message\",\"role\":\"assistant\",\"content\":[],\"model\":\"claude-sonnet-4-5-"
    "20250929\",\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":25,"
    "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":1}}}\n"
    "\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n"
    "\n"
    "event: ping\n"
    "data: {\"type\": \"ping\"}\n"
    "\n"
    ": upstream keep-alive\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n"
    "\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"! How can I help?\"}}\n"
    "\n"
    "event: content_block_stop\n"
    "data: {\"type\":\"content_block_stop\",\"index\":0}\n"
    "\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":15}}\n"
    "\n"
    "event: message_stop\n"
    "data: {\"type\":\"message_stop\"}\n"
    "\n";

static const char *const anthropic_names[] = {
    "message_start",       "content_block_start", "ping",
    "content_block_delta", "content_block_delta", "content_block_stop",
    "message_delta",       "message_stop",
};

/* Every event as "<event>|<id>|<len>:<data>\n", so lists compare as strings. */
struct evlog {
    struct buf text;
    int n;
    int stop_after; /* return 9 from the callback after this many (0 = never) */
};

static int record(void *arg, const struct sse_event *ev)
{
    struct evlog *l = arg;
    l->n++;
    CHECK(ev->data[ev->data_len] == '\0');
    if (buf_printf(&l->text, "%s|%s|%zu:", ev->event, ev->id, ev->data_len) ||
        buf_append(&l->text, ev->data, ev->data_len) || buf_append(&l->text, "\n", 1))
        return -ERR_TOOBIG;
    return l->stop_after && l->n >= l->stop_after ? 9 : 0;
}

static void evlog_init(struct evlog *l)
{
    buf_init(&l->text, 1 << 20);
    l->n = 0;
    l->stop_after = 0;
}

/* Feed text in chunks: fixed size when step > 0, else random 1..max_rand. */
static int feed_chunks(const char *text, size_t len, size_t step, size_t max_rand,
                       struct evlog *l)
{
    struct sse_parser p;
    int rc = 0;
    sse_init(&p, 4096, record, l);
    for (size_t off = 0; off < len && rc == 0;) {
        size_t n = step ? step : 1 + (size_t)rand() % max_rand;
        if (n > len - off)
            n = len - off;
        rc = sse_feed(&p, text + off, n);
        off += n;
    }
    sse_release(&p);
    return rc;
}

/* Parse text whole and return the event list (caller releases l->text). */
static void parse_whole(const char *text, struct evlog *l)
{
    evlog_init(l);
    CHECK_INT(feed_chunks(text, strlen(text), strlen(text) ? strlen(text) : 1, 0, l), 0);
}

/* Same text, split as asked, must give exactly `want`. */
static void expect_same(const char *text, size_t step, size_t max_rand, const struct evlog *want)
{
    struct evlog l;
    evlog_init(&l);
    CHECK_INT(feed_chunks(text, strlen(text), step, max_rand, &l), 0);
    CHECK_INT(l.n, want->n);
    CHECK_STR(l.text.data, want->text.data);
    buf_release(&l.text);
}

/* Replace every "\n" in src by eol; caller frees. */
static char *with_eol(const char *src, const char *eol)
{
    struct buf b;
    buf_init(&b, 1 << 20);
    for (const char *s = src; *s; s++) {
        int rc = *s == '\n' ? buf_append_str(&b, eol) : buf_append(&b, s, 1);
        BUG_ON(rc != 0);
    }
    return buf_take(&b, NULL);
}

TEST(anthropic_stream_whole)
{
    struct evlog l;
    parse_whole(anthropic_stream, &l);
    REQUIRE(l.n == (int)ARRAY_SIZE(anthropic_names));
    const char *line = l.text.data;
    for (size_t i = 0; i < ARRAY_SIZE(anthropic_names); i++) {
        size_t nl = strlen(anthropic_names[i]);
        CHECK(strncmp(line, anthropic_names[i], nl) == 0 && line[nl] == '|');
        line = strchr(line, '\n') + 1;
    }
    static const char ping[] = "{\"type\": \"ping\"}", stop[] = "{\"type\":\"message_stop\"}";
    char want[128];
    snprintf(want, sizeof(want), "\nping||%zu:%s\n", strlen(ping), ping);
    CHECK(strstr(l.text.data, want) != NULL);
    snprintf(want, sizeof(want), "\nmessage_stop||%zu:%s\n", strlen(stop), stop);
    CHECK(strstr(l.text.data, want) != NULL);
    CHECK(strstr(l.text.data, "keep-alive") == NULL);
    buf_release(&l.text);
}

TEST(anthropic_stream_byte_by_byte)
{
    struct evlog want;
    parse_whole(anthropic_stream, &want);
    expect_same(anthropic_stream, 1, 0, &want);
    buf_release(&want.text);
}

TEST(anthropic_stream_random_chunks)
{
    struct evlog want;
    parse_whole(anthropic_stream, &want);
    static const unsigned seeds[] = {1, 2, 3, 42, 1234, 99991};
    for (size_t i = 0; i < ARRAY_SIZE(seeds); i++) {
        srand(seeds[i]);
        expect_same(anthropic_stream, 0, 7, &want);
        expect_same(anthropic_stream, 0, 64, &want);
        expect_same(anthropic_stream, 0, 700, &want);
    }
    buf_release(&want.text);
}

TEST(crlf_and_lone_cr_line_ends)
{
    struct evlog want;
    parse_whole(anthropic_stream, &want);
    static const char *const eols[] = {"\r\n", "\r"};
    for (size_t i = 0; i < ARRAY_SIZE(eols); i++) {
        char *text = with_eol(anthropic_stream, eols[i]);
        expect_same(text, strlen(text), 0, &want);
        expect_same(text, 1, 0, &want); /* every CR ends a chunk */
        srand(7);
        expect_same(text, 0, 5, &want);
        free(text);
    }
    buf_release(&want.text);
}

TEST(cr_at_chunk_boundary)
{
    /* "\r" | "\n": one line end, so a and b are one event. */
    struct sse_parser p;
    struct evlog l;
    evlog_init(&l);
    sse_init(&p, 256, record, &l);
    CHECK_INT(sse_feed(&p, "data: a\r", 8), 0);
    CHECK_INT(sse_feed(&p, "\ndata: b\r", 9), 0);
    CHECK_INT(sse_feed(&p, "", 0), 0); /* an empty chunk keeps the pending CR */
    CHECK_INT(sse_feed(&p, "\n", 1), 0);
    CHECK_INT(l.n, 0);
    CHECK_INT(sse_feed(&p, "\r", 1), 0); /* the blank line */
    CHECK_INT(l.n, 1);
    CHECK_INT(sse_feed(&p, "\n", 1), 0); /* its LF: swallowed, not a second blank line */
    CHECK_INT(l.n, 1);
    CHECK_STR(l.text.data, "||3:a\nb\n");
    /* "\r" | "\r": two line ends, i.e. a blank line. */
    CHECK_INT(sse_feed(&p, "data: c\r", 8), 0);
    CHECK_INT(sse_feed(&p, "\r", 1), 0);
    CHECK_INT(l.n, 2);
    CHECK_STR(l.text.data, "||3:a\nb\n||1:c\n");
    sse_release(&p);
    buf_release(&l.text);
}

TEST(mixed_line_ends_in_one_event)
{
    struct evlog l;
    parse_whole("data: 1\rdata: 2\r\ndata: 3\n\r\n", &l);
    CHECK_STR(l.text.data, "||5:1\n2\n3\n");
    buf_release(&l.text);
}

TEST(multi_line_data_joined)
{
    struct evlog l;
    /* One leading space is stripped, not two; "data" alone is an empty line. */
    parse_whole("event: e\ndata: l1\ndata:l2\ndata\ndata:  l4\n\n", &l);
    CHECK_STR(l.text.data, "e||10:l1\nl2\n\n l4\n");
    buf_release(&l.text);
    parse_whole("data:\n\n", &l); /* a data line with nothing: dispatched, empty */
    CHECK_INT(l.n, 1);
    CHECK_STR(l.text.data, "||0:\n");
    buf_release(&l.text);
}

TEST(bom_only_at_stream_start)
{
    struct evlog l;
    parse_whole("\xEF\xBB\xBF" "data: x\n\n", &l);
    CHECK_STR(l.text.data, "||1:x\n");
    buf_release(&l.text);
    /* Split inside the BOM. */
    struct evlog want;
    parse_whole("data: x\n\n", &want);
    expect_same("\xEF\xBB\xBF" "data: x\n\n", 1, 0, &want);
    buf_release(&want.text);
    /* A BOM later on is part of the field name, so that line is ignored. */
    parse_whole("data: a\n\n\xEF\xBB\xBF" "data: b\n\n", &l);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.text.data, "||1:a\n");
    buf_release(&l.text);
}

TEST(comments_ignored)
{
    struct evlog l;
    parse_whole(": hello\n:\ndata: a\n: in the middle\ndata: b\n\n:bye\n\n", &l);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.text.data, "||3:a\nb\n");
    buf_release(&l.text);
}

TEST(event_without_data_not_dispatched)
{
    struct evlog l;
    /* The event type resets after a blank line, dispatched or not. */
    parse_whole("event: lonely\n\ndata: y\n\nevent: x\ndata: 1\n\ndata: 2\n\n", &l);
    CHECK_INT(l.n, 3);
    CHECK_STR(l.text.data, "||1:y\nx||1:1\n||1:2\n");
    buf_release(&l.text);
    parse_whole("event: never\nid: 3\n", &l); /* no blank line: nothing */
    CHECK_INT(l.n, 0);
    buf_release(&l.text);
}

TEST(id_and_unknown_fields)
{
    struct evlog l;
    /* id persists until changed; unknown fields and retry are ignored. */
    parse_whole("id: 7\nretry: 10\nfoo: bar\ndata: a\n\ndata: b\n\nid\ndata: c\n\n", &l);
    CHECK_STR(l.text.data, "|7|1:a\n|7|1:b\n||1:c\n");
    buf_release(&l.text);
    /* An id holding a NUL is ignored. */
    static const char nul_id[] = "id: 5\ndata: a\n\nid: x\0y\ndata: b\n\n";
    evlog_init(&l);
    struct sse_parser p;
    sse_init(&p, 256, record, &l);
    CHECK_INT(sse_feed(&p, nul_id, sizeof(nul_id) - 1), 0);
    CHECK_STR(l.text.data, "|5|1:a\n|5|1:b\n");
    sse_release(&p);
    buf_release(&l.text);
}

TEST(oversize_is_toobig)
{
    struct sse_parser p;
    struct evlog l;
    evlog_init(&l);
    char big[300];
    memset(big, 'x', sizeof(big));
    /* A single line longer than max, even without its end yet. */
    sse_init(&p, 64, record, &l);
    CHECK_INT(sse_feed(&p, big, 64), 0);
    CHECK_INT(sse_feed(&p, big, 1), -ERR_TOOBIG);
    /* After a reset the parser works again. */
    sse_reset(&p);
    CHECK_INT(sse_feed(&p, "data: ok\n\n", 10), 0);
    CHECK_INT(l.n, 1);
    /* Data growing past max over several short lines. */
    for (int i = 0; i < 10; i++)
        if (sse_feed(&p, "data: 0123456789\n", 17) != 0)
            break;
    CHECK_INT(sse_feed(&p, "data: 0123456789\n", 17), -ERR_TOOBIG);
    CHECK_INT(l.n, 1);
    sse_release(&p);
    /* A line of exactly max bytes is fine. */
    sse_init(&p, 16, record, &l);
    CHECK_INT(sse_feed(&p, "event: 123456789\ndata: 1\n\n", 26), 0);
    CHECK_INT(l.n, 2);
    sse_release(&p);
    buf_release(&l.text);
}

TEST(callback_stops_parsing)
{
    struct evlog l;
    evlog_init(&l);
    l.stop_after = 1;
    struct sse_parser p;
    sse_init(&p, 256, record, &l);
    CHECK_INT(sse_feed(&p, "data: x\n\ndata: y\n\n", 18), 9);
    CHECK_INT(l.n, 1);
    sse_release(&p);
    /* Without a callback, events are parsed and dropped. */
    sse_init(&p, 256, NULL, NULL);
    CHECK_INT(sse_feed(&p, "data: x\n\n", 9), 0);
    sse_release(&p);
    buf_release(&l.text);
}

/* Encode (event, data), parse it back, expect exactly one such event. */
static void round_trip(const char *event, const char *data, const char *want_data)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(sse_encode(&b, event, data), 0);
    struct evlog l;
    parse_whole(b.data, &l);
    struct buf want;
    buf_init(&want, 4096);
    CHECK_INT(buf_printf(&want, "%s||%zu:%s\n", event ? event : "", strlen(want_data), want_data),
              0);
    CHECK_INT(l.n, 1);
    CHECK_STR(l.text.data, want.data);
    buf_release(&want);
    buf_release(&l.text);
    buf_release(&b);
}

TEST(encode_round_trip)
{
    struct buf b;
    buf_init(&b, 4096);
    CHECK_INT(sse_encode(&b, "error", "{\"a\":1}\nsecond"), 0);
    CHECK_STR(b.data, "event: error\ndata: {\"a\":1}\ndata: second\n\n");
    buf_reset(&b);
    CHECK_INT(sse_encode(&b, NULL, "x"), 0);
    CHECK_STR(b.data, "data: x\n\n");
    buf_reset(&b);
    CHECK_INT(sse_encode(&b, "", ""), 0);
    CHECK_STR(b.data, "data: \n\n");
    buf_release(&b);
    round_trip("message_delta", "{\"type\":\"message_delta\"}", "{\"type\":\"message_delta\"}");
    round_trip(NULL, "one\ntwo\n\nfour", "one\ntwo\n\nfour");
    round_trip("e", "cr\rcrlf\r\nlf\n", "cr\ncrlf\nlf\n");
    round_trip("e", " leading space", " leading space");
    round_trip("ping", "", "");
}

TEST(encode_errors_leave_buffer_intact)
{
    struct buf b;
    buf_init(&b, 24);
    CHECK_INT(buf_append_str(&b, "kept"), 0);
    CHECK_INT(sse_encode(&b, "bad\nname", "x"), -ERR_INVAL);
    CHECK_INT(sse_encode(&b, "e", "far too long for this buffer"), -ERR_TOOBIG);
    CHECK_INT(b.len, 4);
    CHECK_STR(b.data, "kept");
    buf_release(&b);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(anthropic_stream_whole),
        T(anthropic_stream_byte_by_byte),
        T(anthropic_stream_random_chunks),
        T(crlf_and_lone_cr_line_ends),
        T(cr_at_chunk_boundary),
        T(mixed_line_ends_in_one_event),
        T(multi_line_data_joined),
        T(bom_only_at_stream_start),
        T(comments_ignored),
        T(event_without_data_not_dispatched),
        T(id_and_unknown_fields),
        T(oversize_is_toobig),
        T(callback_stops_parsing),
        T(encode_round_trip),
        T(encode_errors_leave_buffer_intact),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
