/*
 * test_chat_convert.c - the conversions into and out of OpenAI chat
 * completions (Claude Messages: test/golden/chat-claude/, Responses:
 * test/golden/chat-responses/, Gemini: test/golden/chat-gemini/; written
 * from the public API docs and what the mock upstream sends) and the Code
 * Assist envelope against their golden transcripts; streams are
 * fed through the SSE parser in random chunk sizes and must give the same
 * bytes every time.
 */
#include "compat.h"
#include "chat_claude.h"
#include "chat_gemini.h"
#include "chat_responses.h"
#include "convert.h"
#include "errs.h"
#include "gemini_envelope.h"
#include "harness.h"
#include "json.h"
#include "sse.h"

#include <stdlib.h>

#define GOLDEN "test/golden/"
#define CREATED 1700000000

static char *slurp(const char *name, size_t *len)
{
    char path[256];
    snprintf(path, sizeof(path), GOLDEN "%s", name);
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    fclose(f);
    if (len)
        *len = (size_t)n;
    return s;
}

static cJSON *golden_json(const char *name)
{
    size_t n = 0;
    char *s = slurp(name, &n);
    cJSON *j = s ? json_parse(s, n, JSON_MAX_DEPTH, true) : NULL;
    free(s);
    return j;
}

static bool same_json(const cJSON *got, const cJSON *want)
{
    if (cJSON_Compare(got, want, true))
        return true;
    char *g = json_print(got), *w = json_print(want);
    fprintf(stderr, "  got:  %s\n  want: %s\n", g, w);
    free(g);
    free(w);
    return false;
}

TEST(request_golden)
{
    cJSON *chat = golden_json("chat-claude/request.chat.json"),
          *want = golden_json("chat-claude/request.claude.json");
    REQUIRE(chat && want);
    cJSON *got = NULL;
    char err[200] = "";
    CHECK_INT(chat_to_claude(chat, &got, err, sizeof(err)), 0);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    cJSON_Delete(chat);
    cJSON_Delete(want);
}

/* Each refusal names the field the client has to fix. */
TEST(request_refusals)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"model\":\"m\",\"messages\":[]}", "messages must be"},
        {"{\"model\":\"m\",\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "n:"},
        {"{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
         "messages[0].content[0].type"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
         "{\"url\":\"ftp://x\"}}]}]}",
         "messages[0].content[0].image_url.url"},
        {"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"function\":"
         "{\"name\":\"f\",\"arguments\":\"{bad\"}}]}]}",
         "messages[0].tool_calls[0]"},
        {"{\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}", "messages[0].tool_call_id"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"x\"}]}",
         "tools[0]"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"sometimes\"}",
         "tool_choice"},
        {"{\"messages\":[{\"role\":\"system\",\"content\":\"only a system prompt\"}]}",
         "no user or assistant"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cJSON *chat = cJSON_Parse(cases[i].body), *out = NULL;
        char err[200] = "";
        CHECK_INT(chat_to_claude(chat, &out, err, sizeof(err)), -ERR_INVAL);
        CHECK(out == NULL);
        if (!strstr(err, cases[i].field))
            fprintf(stderr, "  case %zu: %s\n", i, err);
        CHECK(strstr(err, cases[i].field) != NULL);
        cJSON_Delete(chat);
    }
}

TEST(request_defaults)
{
    cJSON *chat =
        cJSON_Parse("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],"
                    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"f\"}}}");
    cJSON *out = NULL;
    char err[200] = "";
    REQUIRE(chat_to_claude(chat, &out, err, sizeof(err)) == 0);
    CHECK_INT(json_int(out, "max_tokens", 0), CHAT_DEFAULT_MAX_TOKENS);
    CHECK(json_get(out, "system") == NULL);
    CHECK(json_get(out, "stream") == NULL);
    CHECK_STR(json_str(json_get(out, "tool_choice"), "type", ""), "tool");
    CHECK_STR(json_str(json_get(out, "tool_choice"), "name", ""), "f");
    const cJSON *m = cJSON_GetArrayItem(json_get(out, "messages"), 0);
    CHECK_STR(json_str(cJSON_GetArrayItem(json_get(m, "content"), 0), "text", ""), "hi");
    cJSON_Delete(out);
    cJSON_Delete(chat);
}

TEST(response_golden)
{
    cJSON *msg = golden_json("chat-claude/response.claude.json"),
          *want = golden_json("chat-claude/response.chat.json");
    REQUIRE(msg && want);
    cJSON *got = claude_to_chat(msg, "claude-sonnet-4-5", CREATED);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    cJSON_Delete(msg);
    cJSON_Delete(want);
}

TEST(finish_reasons)
{
    CHECK_STR(chat_finish_reason("end_turn"), "stop");
    CHECK_STR(chat_finish_reason("max_tokens"), "length");
    CHECK_STR(chat_finish_reason("tool_use"), "tool_calls");
    CHECK_STR(chat_finish_reason("refusal"), "content_filter");
    CHECK_STR(chat_finish_reason("something_new"), "stop");
    CHECK_STR(chat_finish_reason(NULL), "stop");
}

/* One stream conversion, whichever upstream format it reads. */
struct stream_ops {
    void *(*open)(void);
    int (*event)(void *s, const struct sse_event *ev, struct buf *out);
    void (*close)(void *s);
};

static void *claude_open(void)
{
    return chat_stream_new("claude-sonnet-4-5", CREATED, true);
}
static int claude_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return chat_stream_event(s, ev, out);
}
static void claude_close(void *s)
{
    chat_stream_free(s);
}
static const struct stream_ops from_claude = {claude_open, claude_event, claude_close};

static void *responses_open(void)
{
    return chat_rstream_new("gpt-5", CREATED, true);
}
static int responses_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return chat_rstream_event(s, ev, out);
}
static void responses_close(void *s)
{
    chat_rstream_free(s);
}
static const struct stream_ops from_responses = {responses_open, responses_event, responses_close};

/* The same conversions through the slot's table (convert.h), as the relay
 * runs them: the chat row, and the legacy completions row on top of it. */
static void *table_open(const char *client, const char *family, const char *model)
{
    return conversion_stream_new(conversion_find(client, family), model, CREATED, true);
}
static void *claude_row_open(void)
{
    return table_open("openai-chat", "claude", "claude-sonnet-4-5");
}
static void *legacy_row_open(void)
{
    return table_open("openai-completions", "claude", "claude-sonnet-4-5");
}
static void *responses_row_open(void)
{
    return table_open("openai-chat", "openai", "gpt-5");
}
static int row_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return conversion_stream_event(s, ev, out);
}
static void row_close(void *s)
{
    conversion_stream_free(s);
}
static const struct stream_ops claude_row = {claude_row_open, row_event, row_close};
static const struct stream_ops legacy_row = {legacy_row_open, row_event, row_close};
static const struct stream_ops responses_row = {responses_row_open, row_event, row_close};

struct feed {
    const struct stream_ops *ops;
    void *s;
    struct buf out;
    int rc;
};

static int on_event(void *arg, const struct sse_event *ev)
{
    struct feed *f = arg;
    if (f->ops->event(f->s, ev, &f->out) != 0)
        f->rc = -1;
    return 0;
}

/* The converted stream of a Claude SSE transcript, fed in chunks of
 * 1..max bytes (random, from seed). Caller frees. */
static char *convert_stream(const struct stream_ops *ops, const char *sse, size_t len, size_t max,
                            unsigned seed)
{
    struct feed f = {ops, ops->open(), {0}, 0};
    buf_init(&f.out, 1u << 20);
    struct sse_parser p;
    sse_init(&p, 1u << 20, on_event, &f);
    srand(seed);
    for (size_t off = 0; off < len;) {
        size_t n = 1 + (size_t)rand() % max;
        if (n > len - off)
            n = len - off;
        if (sse_feed(&p, sse + off, n) != 0)
            f.rc = -1;
        off += n;
    }
    sse_release(&p);
    char *text = f.rc == 0 && f.out.data ? strdup(f.out.data) : NULL;
    buf_release(&f.out);
    ops->close(f.s);
    return text;
}

static void stream_golden(const struct stream_ops *ops, const char *in, const char *want_name)
{
    size_t len = 0;
    char *sse = slurp(in, &len), *want = slurp(want_name, NULL);
    REQUIRE(sse && want);
    static const size_t maxes[] = {1, 3, 17, 64, 100000};
    for (size_t i = 0; i < ARRAY_SIZE(maxes); i++) {
        for (unsigned seed = 1; seed <= 5; seed++) {
            char *got = convert_stream(ops, sse, len, maxes[i], seed);
            bool ok = got && strcmp(got, want) == 0;
            if (!ok)
                fprintf(stderr, "  chunks<=%zu seed %u:\n%s\n  want:\n%s\n", maxes[i], seed,
                        got ? got : "(null)", want);
            CHECK(ok);
            free(got);
        }
    }
    free(sse);
    free(want);
}

TEST(stream_text_and_tool_call)
{
    stream_golden(&from_claude, "chat-claude/stream.claude.sse", "chat-claude/stream.chat.txt");
}

TEST(slot_rows_stream_like_the_modules)
{
    stream_golden(&claude_row, "chat-claude/stream.claude.sse", "chat-claude/stream.chat.txt");
    stream_golden(&claude_row, "chat-claude/stream-error.claude.sse",
                  "chat-claude/stream-error.chat.txt");
    stream_golden(&responses_row, "chat-responses/stream.responses.sse",
                  "chat-responses/stream.chat.txt");
}

/* Legacy completions in random chunks: the chat frames rewritten as
 * text_completion chunks; text, finish and usage kept, [DONE] last. */
TEST(slot_legacy_stream)
{
    size_t len = 0;
    char *sse = slurp("chat-claude/stream.claude.sse", &len);
    REQUIRE(sse);
    char *first = NULL;
    for (unsigned seed = 1; seed <= 8; seed++) {
        char *got = convert_stream(&legacy_row, sse, len, 1 + seed * 7, seed);
        REQUIRE(got);
        CHECK(strstr(got, "\"object\":\"text_completion\"") != NULL);
        CHECK(strstr(got, "chat.completion") == NULL);
        CHECK(strstr(got, "\"finish_reason\":\"tool_calls\"") != NULL);
        CHECK(strstr(got, "\"usage\"") != NULL);
        size_t n = strlen(got);
        CHECK(n > 14 && strcmp(got + n - 14, "data: [DONE]\n\n") == 0);
        if (!first)
            first = got;
        else {
            CHECK_STR(got, first); /* the chunking never shows */
            free(got);
        }
    }
    free(first);
    free(sse);
}

static int feed_row(void *arg, const struct sse_event *ev)
{
    struct buf *out = ((struct buf **)arg)[1];
    return conversion_stream_event(((struct conv_stream **)arg)[0], ev, out);
}

/* Complete only after the upstream's last event: a stream cut short is
 * told apart from a finished one (the relay then ends it with an error). */
TEST(slot_stream_complete_only_at_the_end)
{
    size_t len = 0;
    char *sse = slurp("chat-claude/stream.claude.sse", &len);
    REQUIRE(sse);
    const char *stop = strstr(sse, "event: message_stop");
    REQUIRE(stop);
    for (int whole = 0; whole <= 1; whole++) {
        struct conv_stream *cs = claude_row_open();
        struct buf out;
        buf_init(&out, 1u << 20);
        void *arg[2] = {cs, &out};
        struct sse_parser p;
        sse_init(&p, 1u << 20, feed_row, arg);
        CHECK_INT(sse_feed(&p, sse, whole ? len : (size_t)(stop - sse)), 0);
        CHECK(conversion_stream_complete(cs) == (whole == 1));
        sse_release(&p);
        buf_release(&out);
        conversion_stream_free(cs);
    }
    free(sse);
}

TEST(slot_table_and_legacy_bodies)
{
    CHECK(conversion_find("openai-chat", "claude") != NULL);
    CHECK(conversion_find("openai-chat", "mistral") == NULL);
    CHECK(conversion_find("anthropic", "claude") == NULL);
    CHECK_STR(conversion_find("openai-chat", "openai")->endpoint, "responses");
    const struct conversion *c = conversion_find("openai-completions", "claude");
    cJSON *body = cJSON_Parse("{\"model\":\"m\",\"prompt\":\"hi\",\"max_tokens\":7}");
    char *out = NULL, err[128] = "";
    size_t n = 0;
    CHECK_INT(conversion_request(c, body, &out, &n, err, sizeof(err)), 0);
    cJSON *up = cJSON_Parse(out);
    CHECK_INT((int)json_int(up, "max_tokens", 0), 7);
    const cJSON *m = cJSON_GetArrayItem(json_get(up, "messages"), 0);
    CHECK_STR(json_str(m, "role", ""), "user");
    cJSON_Delete(up);
    free(out);
    cJSON_Delete(body);
    body = cJSON_Parse("{\"model\":\"m\",\"prompt\":[\"a\",\"b\"]}");
    out = NULL;
    CHECK_INT(conversion_request(c, body, &out, &n, err, sizeof(err)), -ERR_INVAL);
    CHECK(strstr(err, "prompt") != NULL);
    CHECK(out == NULL);
    cJSON_Delete(body);
    const char *msg = "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\","
                      "\"content\":[{\"type\":\"text\",\"text\":\"Hi\"}],\"stop_reason\":"
                      "\"max_tokens\",\"usage\":{\"input_tokens\":3,\"output_tokens\":2}}";
    char *ans = conversion_answer(c, msg, strlen(msg), "m", CREATED, &n);
    cJSON *a = cJSON_Parse(ans);
    CHECK_STR(json_str(a, "object", ""), "text_completion");
    const cJSON *ch = cJSON_GetArrayItem(json_get(a, "choices"), 0);
    CHECK_STR(json_str(ch, "text", ""), "Hi");
    CHECK_STR(json_str(ch, "finish_reason", ""), "length");
    cJSON_Delete(a);
    free(ans);
    CHECK(conversion_answer(c, "not json", 8, "m", CREATED, &n) == NULL);
}

TEST(stream_error_mid_way)
{
    stream_golden(&from_claude, "chat-claude/stream-error.claude.sse",
                  "chat-claude/stream-error.chat.txt");
}

TEST(responses_request_golden)
{
    cJSON *chat = golden_json("chat-responses/request.chat.json"),
          *want = golden_json("chat-responses/request.responses.json");
    REQUIRE(chat && want);
    cJSON *got = NULL;
    char err[200] = "";
    CHECK_INT(chat_to_responses(chat, &got, err, sizeof(err)), 0);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    cJSON_Delete(chat);
    cJSON_Delete(want);
}

TEST(responses_request_refusals)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"messages\":[]}", "messages must be"},
        {"{\"n\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "n:"},
        {"{\"messages\":[{\"role\":\"critic\",\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"image_url\","
         "\"image_url\":{\"url\":\"https://x\"}}]}]}",
         "messages[0].content[0].type"},
        {"{\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}", "messages[0].tool_call_id"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":7}",
         "tool_choice"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cJSON *chat = cJSON_Parse(cases[i].body), *out = NULL;
        char err[200] = "";
        CHECK_INT(chat_to_responses(chat, &out, err, sizeof(err)), -ERR_INVAL);
        CHECK(out == NULL);
        if (!strstr(err, cases[i].field))
            fprintf(stderr, "  case %zu: %s\n", i, err);
        CHECK(strstr(err, cases[i].field) != NULL);
        cJSON_Delete(chat);
    }
}

TEST(responses_response_golden)
{
    cJSON *resp = golden_json("chat-responses/response.responses.json"),
          *want = golden_json("chat-responses/response.chat.json");
    REQUIRE(resp && want);
    cJSON *got = responses_to_chat(resp, "gpt-5", CREATED);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    /* Cut short by the output limit: length, no tool calls. */
    cJSON *cut = cJSON_Parse("{\"id\":\"r\",\"status\":\"incomplete\",\"incomplete_details\":"
                             "{\"reason\":\"max_output_tokens\"},\"output\":[]}");
    got = responses_to_chat(cut, "gpt-5", CREATED);
    const cJSON *choice = cJSON_GetArrayItem(json_get(got, "choices"), 0);
    CHECK_STR(json_str(choice, "finish_reason", ""), "length");
    CHECK_STR(json_str(json_get(choice, "message"), "content", "x"), "");
    cJSON_Delete(got);
    cJSON_Delete(cut);
    cJSON_Delete(resp);
    cJSON_Delete(want);
}

TEST(responses_stream_text_and_tool_call)
{
    stream_golden(&from_responses, "chat-responses/stream.responses.sse",
                  "chat-responses/stream.chat.txt");
}

TEST(responses_stream_failed)
{
    stream_golden(&from_responses, "chat-responses/stream-error.responses.sse",
                  "chat-responses/stream-error.chat.txt");
}

/* ---- chat <-> Gemini ---- */

static void *gemini_open(void)
{
    return chat_gstream_new("gemini-2.5-flash", CREATED, true);
}
static int gemini_event(void *s, const struct sse_event *ev, struct buf *out)
{
    return chat_gstream_event(s, ev, out);
}
static void gemini_close(void *s)
{
    chat_gstream_free(s);
}
static const struct stream_ops from_gemini = {gemini_open, gemini_event, gemini_close};

static void *gemini_row_open(void)
{
    return table_open("openai-chat", "gemini", "gemini-2.5-flash");
}
static const struct stream_ops gemini_row = {gemini_row_open, row_event, row_close};
static void *gemini_legacy_open(void)
{
    return table_open("openai-completions", "gemini", "gemini-2.5-flash");
}
static const struct stream_ops gemini_legacy = {gemini_legacy_open, row_event, row_close};

/* The envelope unwrap as a row would carry it (gemini_envelope.h): the
 * standard client served by a Code Assist account. */
static const struct conversion unwrap_row = {
    "gemini", "gemini", NULL,  NULL, gemini_envelope_answer, NULL, gemini_envelope_event,
    NULL,     NULL,     false, NULL};
static void *unwrap_open(void)
{
    return conversion_stream_new(&unwrap_row, "gemini-2.5-flash", CREATED, false);
}
static const struct stream_ops unwrap_ops = {unwrap_open, row_event, row_close};

TEST(gemini_request_golden)
{
    cJSON *chat = golden_json("chat-gemini/request.chat.json"),
          *want = golden_json("chat-gemini/request.gemini.json");
    REQUIRE(chat && want);
    cJSON *got = NULL;
    char err[200] = "";
    CHECK_INT(chat_to_gemini(chat, &got, err, sizeof(err)), 0);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    cJSON_Delete(chat);
    cJSON_Delete(want);
}

/* Each refusal names the field the client has to fix. */
TEST(gemini_request_refusals)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{\"messages\":[]}", "messages must be"},
        {"{\"n\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}", "n:"},
        {"{\"messages\":[{\"role\":\"function\",\"content\":\"x\"}]}", "messages[0].role"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"image_url\",\"image_url\":"
         "{\"url\":\"https://x/cat.png\"}}]}]}",
         "image_url.url is an http(s) URL: Gemini takes images inline only"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\"}]}]}",
         "messages[0].content[0].type"},
        {"{\"messages\":[{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"c\",\"function\":"
         "{\"name\":\"f\",\"arguments\":\"[1]\"}}]}]}",
         "messages[0].tool_calls[0]"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"tool\","
         "\"tool_call_id\":\"nope\",\"content\":\"r\"}]}",
         "messages[1].tool_call_id 'nope' answers no earlier"},
        {"{\"messages\":[{\"role\":\"tool\",\"content\":\"r\"}]}", "messages[0].tool_call_id"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"reasoning_effort\":\"max\"}",
         "reasoning_effort"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"response_format\":{\"type\":"
         "\"json_schema\",\"json_schema\":{\"name\":\"x\"}}}",
         "response_format.json_schema.schema"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"response_format\":{\"type\":"
         "\"yaml\"}}",
         "response_format.type"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tools\":[{\"type\":\"x\"}]}",
         "tools[0]"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"often\"}",
         "tool_choice"},
        {"{\"messages\":[{\"role\":\"developer\",\"content\":\"rules only\"}]}",
         "no user or assistant"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        cJSON *chat = cJSON_Parse(cases[i].body), *out = NULL;
        char err[200] = "";
        CHECK_INT(chat_to_gemini(chat, &out, err, sizeof(err)), -ERR_INVAL);
        CHECK(out == NULL);
        if (!strstr(err, cases[i].field))
            fprintf(stderr, "  case %zu: %s\n", i, err);
        CHECK(strstr(err, cases[i].field) != NULL);
        cJSON_Delete(chat);
    }
}

/* A minimal body: no generationConfig, no tools, no system; Gemini 3 gets
 * a thinkingLevel, json_object a MIME type without a schema. */
TEST(gemini_request_minimal_and_variants)
{
    cJSON *chat = cJSON_Parse("{\"model\":\"gemini-2.5-pro\",\"stream\":true,\"messages\":"
                              "[{\"role\":\"user\",\"content\":\"hi\"}],\"tool_choice\":\"none\"}");
    cJSON *out = NULL;
    char err[200] = "";
    REQUIRE(chat_to_gemini(chat, &out, err, sizeof(err)) == 0);
    CHECK(json_get(out, "generationConfig") == NULL);
    CHECK(json_get(out, "systemInstruction") == NULL);
    CHECK(json_get(out, "tools") == NULL);
    CHECK(json_get(out, "model") == NULL);  /* in the URL */
    CHECK(json_get(out, "stream") == NULL); /* in the endpoint */
    CHECK_STR(json_str(json_get(json_get(out, "toolConfig"), "functionCallingConfig"), "mode", ""),
              "NONE");
    cJSON_Delete(out);
    cJSON_Delete(chat);
    chat = cJSON_Parse("{\"model\":\"gemini-3-pro-preview\",\"reasoning_effort\":\"medium\","
                       "\"response_format\":{\"type\":\"json_object\"},\"tool_choice\":"
                       "\"required\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    REQUIRE(chat_to_gemini(chat, &out, err, sizeof(err)) == 0);
    const cJSON *gc = json_get(out, "generationConfig");
    CHECK_STR(json_str(json_get(gc, "thinkingConfig"), "thinkingLevel", ""), "high");
    CHECK(json_get(json_get(gc, "thinkingConfig"), "thinkingBudget") == NULL);
    CHECK_STR(json_str(gc, "responseMimeType", ""), "application/json");
    CHECK(json_get(gc, "responseJsonSchema") == NULL);
    CHECK_STR(json_str(json_get(json_get(out, "toolConfig"), "functionCallingConfig"), "mode", ""),
              "ANY");
    cJSON_Delete(out);
    cJSON_Delete(chat);
}

TEST(gemini_response_golden)
{
    cJSON *want = golden_json("chat-gemini/response.chat.json");
    static const char *const answers[] = {"chat-gemini/response.gemini.json",
                                          "chat-gemini/response.code-assist.json"};
    REQUIRE(want);
    for (size_t i = 0; i < ARRAY_SIZE(answers); i++) {
        cJSON *ans = golden_json(answers[i]);
        REQUIRE(ans);
        cJSON *got = gemini_to_chat(ans, "gemini-2.5-flash", CREATED);
        CHECK(same_json(got, want));
        cJSON_Delete(got);
        cJSON_Delete(ans);
    }
    cJSON_Delete(want);
}

TEST(gemini_finish_reasons)
{
    CHECK_STR(gemini_finish_reason("STOP", false), "stop");
    CHECK_STR(gemini_finish_reason("STOP", true), "tool_calls");
    CHECK_STR(gemini_finish_reason("MAX_TOKENS", true), "length");
    CHECK_STR(gemini_finish_reason("SAFETY", false), "content_filter");
    CHECK_STR(gemini_finish_reason("RECITATION", false), "content_filter");
    CHECK_STR(gemini_finish_reason("PROHIBITED_CONTENT", false), "content_filter");
    CHECK_STR(gemini_finish_reason("OTHER", false), "stop");
    CHECK_STR(gemini_finish_reason(NULL, false), "stop");
    /* A prompt blocked before any candidate: a content filter, no text. */
    cJSON *blocked = cJSON_Parse("{\"promptFeedback\":{\"blockReason\":\"SAFETY\"},"
                                 "\"usageMetadata\":{\"promptTokenCount\":9}}");
    cJSON *got = gemini_to_chat(blocked, "gemini-2.5-flash", CREATED);
    const cJSON *choice = cJSON_GetArrayItem(json_get(got, "choices"), 0);
    CHECK_STR(json_str(choice, "finish_reason", ""), "content_filter");
    CHECK_STR(json_str(json_get(choice, "message"), "content", "x"), "");
    CHECK_INT((int)json_int(json_get(got, "usage"), "prompt_tokens", 0), 9);
    cJSON_Delete(got);
    cJSON_Delete(blocked);
}

TEST(gemini_stream_text_and_tool_call)
{
    stream_golden(&from_gemini, "chat-gemini/stream.gemini.sse", "chat-gemini/stream.chat.txt");
    stream_golden(&from_gemini, "chat-gemini/stream.code-assist.sse",
                  "chat-gemini/stream.chat.txt");
    stream_golden(&from_gemini, "chat-gemini/stream-error.gemini.sse",
                  "chat-gemini/stream-error.chat.txt");
}

/* The slot's rows: both endpoints, the stream, the answer, legacy
 * completions on top, and complete only after the finishing chunk. */
TEST(gemini_slot_rows)
{
    const struct conversion *c = conversion_find("openai-chat", "gemini");
    REQUIRE(c);
    CHECK_STR(c->endpoint, "generateContent");
    CHECK_STR(c->stream_endpoint, "streamGenerateContent");
    REQUIRE(conversion_find("openai-completions", "gemini"));
    CHECK_STR(conversion_find("openai-completions", "gemini")->stream_endpoint,
              "streamGenerateContent");
    stream_golden(&gemini_row, "chat-gemini/stream.code-assist.sse", "chat-gemini/stream.chat.txt");
    size_t len = 0, n = 0;
    char *sse = slurp("chat-gemini/stream.code-assist.sse", &len);
    REQUIRE(sse);
    char *legacy = convert_stream(&gemini_legacy, sse, len, 13, 3);
    REQUIRE(legacy);
    CHECK(strstr(legacy, "\"object\":\"text_completion\"") != NULL);
    CHECK(strstr(legacy, "\"text\":\" ✓ à Paris\"") != NULL);
    CHECK(strstr(legacy, "\"finish_reason\":\"tool_calls\"") != NULL);
    CHECK(strstr(legacy, "chat.completion") == NULL);
    free(legacy);
    free(sse);
    char *body = slurp("chat-gemini/response.code-assist.json", &len);
    REQUIRE(body);
    char *ans = conversion_answer(conversion_find("openai-completions", "gemini"), body, len,
                                  "gemini-2.5-flash", CREATED, &n);
    cJSON *a = cJSON_Parse(ans);
    CHECK_STR(json_str(a, "object", ""), "text_completion");
    CHECK_STR(json_str(cJSON_GetArrayItem(json_get(a, "choices"), 0), "text", ""),
              "Je vérifie la météo.");
    cJSON_Delete(a);
    free(ans);
    free(body);
    sse = slurp("chat-gemini/stream.gemini.sse", &len);
    REQUIRE(sse);
    const char *last = strstr(sse, "\"finishReason\"");
    REQUIRE(last);
    while (last > sse && last[-1] != '\n')
        last--;
    for (int whole = 0; whole <= 1; whole++) {
        struct conv_stream *cs = gemini_row_open();
        struct buf out;
        buf_init(&out, 1u << 20);
        void *arg[2] = {cs, &out};
        struct sse_parser p;
        sse_init(&p, 1u << 20, feed_row, arg);
        CHECK_INT(sse_feed(&p, sse, whole ? len : (size_t)(last - sse)), 0);
        CHECK(conversion_stream_complete(cs) == (whole == 1));
        sse_release(&p);
        buf_release(&out);
        conversion_stream_free(cs);
    }
    free(sse);
}

/* Without include_usage no usage chunk; MAX_TOKENS is length. */
TEST(gemini_stream_cut_by_length)
{
    const char *sse = "data: {\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"abc\"}]},"
                      "\"finishReason\":\"MAX_TOKENS\"}],\"responseId\":\"r9\"}\r\n\r\n";
    struct chat_gstream *s = chat_gstream_new("gemini-2.5-flash", CREATED, false);
    struct buf out;
    buf_init(&out, 1u << 16);
    struct sse_event ev = {"", sse + 6, strlen(sse) - 10, ""};
    char data[256];
    snprintf(data, sizeof(data), "%.*s", (int)ev.data_len, ev.data);
    ev.data = data;
    CHECK_INT(chat_gstream_event(s, &ev, &out), 0);
    CHECK(chat_gstream_done(s));
    CHECK(strstr(out.data, "\"finish_reason\":\"length\"") != NULL);
    CHECK(strstr(out.data, "\"usage\"") == NULL);
    CHECK(strstr(out.data, "\"content\":\"abc\"") != NULL);
    size_t n = out.len;
    CHECK(n > 14 && strcmp(out.data + n - 14, "data: [DONE]\n\n") == 0);
    buf_release(&out);
    chat_gstream_free(s);
}

/* The envelope: wrap for Code Assist; unwrap per body and per event, in
 * random chunks, giving back the standard stream byte for byte. */
TEST(gemini_envelope_wrap_unwrap)
{
    cJSON *req = cJSON_Parse("{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}");
    cJSON *w = gemini_envelope_wrap(req, "gemini-2.5-pro", "proj-1", "p-1");
    CHECK_STR(json_str(w, "model", ""), "gemini-2.5-pro");
    CHECK_STR(json_str(w, "project", ""), "proj-1");
    CHECK_STR(json_str(w, "user_prompt_id", ""), "p-1");
    CHECK(cJSON_IsArray(json_get(json_get(w, "request"), "contents")));
    cJSON_Delete(w);
    w = gemini_envelope_wrap(cJSON_CreateObject(), "m", NULL, "p");
    CHECK(json_get(w, "project") == NULL);
    cJSON_Delete(w);
    cJSON *plain = cJSON_Parse("{\"candidates\":[],\"response\":{\"x\":1}}");
    CHECK(gemini_envelope_unwrap(plain) == plain); /* a standard answer is left alone */
    cJSON_Delete(plain);
    size_t len = 0, n = 0;
    char *body = slurp("chat-gemini/response.code-assist.json", &len);
    cJSON *want = golden_json("chat-gemini/response.gemini.json");
    REQUIRE(body && want);
    char *ans = conversion_answer(&unwrap_row, body, len, "m", CREATED, &n);
    cJSON *got = cJSON_Parse(ans);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    free(ans);
    free(body);
    cJSON_Delete(want);
    stream_golden(&unwrap_ops, "chat-gemini/stream.code-assist.sse",
                  "chat-gemini/stream.gemini.sse");
    stream_golden(&unwrap_ops, "chat-gemini/stream.gemini.sse", "chat-gemini/stream.gemini.sse");
}

/* The provider's unwrap hook (gemini_envelope_unwrap_text): the golden
 * Code Assist answer becomes the golden standard one; a text without the
 * envelope, or no JSON at all, is left for the caller to pass as is. */
TEST(gemini_envelope_unwrap_hook)
{
    size_t len = 0, n = 0;
    char *body = slurp("chat-gemini/response.code-assist.json", &len);
    cJSON *want = golden_json("chat-gemini/response.gemini.json");
    REQUIRE(body && want);
    char *inner = gemini_envelope_unwrap_text(body, len, &n);
    REQUIRE(inner);
    CHECK_INT((long long)n, (long long)strlen(inner));
    cJSON *got = cJSON_Parse(inner);
    CHECK(same_json(got, want));
    cJSON_Delete(got);
    free(inner);
    free(body);
    cJSON_Delete(want);
    static const char *const plain[] = {"{\"candidates\":[],\"response\":{\"x\":1}}",
                                        "{\"candidates\":[]}", "data: {\"response\"", ""};
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        CHECK(gemini_envelope_unwrap_text(plain[i], strlen(plain[i]), &n) == NULL);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(request_golden),
        T(request_refusals),
        T(request_defaults),
        T(response_golden),
        T(finish_reasons),
        T(stream_text_and_tool_call),
        T(stream_error_mid_way),
        T(slot_rows_stream_like_the_modules),
        T(slot_legacy_stream),
        T(slot_table_and_legacy_bodies),
        T(slot_stream_complete_only_at_the_end),
        T(responses_request_golden),
        T(responses_request_refusals),
        T(responses_response_golden),
        T(responses_stream_text_and_tool_call),
        T(responses_stream_failed),
        T(gemini_request_golden),
        T(gemini_request_refusals),
        T(gemini_request_minimal_and_variants),
        T(gemini_response_golden),
        T(gemini_finish_reasons),
        T(gemini_stream_text_and_tool_call),
        T(gemini_slot_rows),
        T(gemini_stream_cut_by_length),
        T(gemini_envelope_wrap_unwrap),
        T(gemini_envelope_unwrap_hook),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
