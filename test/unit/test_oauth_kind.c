/* test_oauth_kind.c - server/providers/oauth_kind + oauth_kinds: the
 * authorize URL, PKCE and token requests of each OAuth kind (Claude 9.1,
 * Google 9.2, OpenAI 9.3) and the token answer's parsing. */
#include "compat.h"
#include "config.h"
#include "errs.h"
#include "harness.h"
#include "json.h"
#include "oauth_kind.h"
#include "secret.h"

#include <sodium.h>

static struct relay_config cfg = {
    .claude_oauth_authorize_url = "https://claude.ai/oauth/authorize",
    .claude_oauth_token_url = "https://platform.claude.com/v1/oauth/token",
    .claude_oauth_client_id = "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
    .claude_oauth_scopes = "user:profile user:inference",
    .claude_oauth_redirect_uri = "https://platform.claude.com/oauth/code/callback",
    .openai_oauth_authorize_url = "https://auth.openai.com/oauth/authorize",
    .openai_oauth_token_url = "https://auth.openai.com/oauth/token",
    .openai_oauth_client_id = "app_EMoamEEZ73f0CkXaXp7hrann",
    .openai_oauth_redirect_uri = "http://localhost:1455/auth/callback",
    .gemini_oauth_authorize_url = "https://accounts.google.com/o/oauth2/v2/auth",
    .gemini_oauth_token_url = "https://oauth2.googleapis.com/token",
    .gemini_oauth_client_id = "681255809395-x.apps.googleusercontent.com",
    .gemini_oauth_client_secret = "GOCSPX-test",
    .gemini_oauth_redirect_uri = "https://codeassist.google.com/authcode",
};

static bool all_hex(const char *s, size_t n)
{
    return strlen(s) == n && strspn(s, "0123456789abcdef") == n;
}

TEST(google_authorize_url_offline_select_account_s256)
{
    struct oauth_endpoints e;
    char v[OAUTH_VERIFIER_MAX], st[OAUTH_STATE_MAX], ch[OAUTH_CHALLENGE_MAX],
        want[OAUTH_CHALLENGE_MAX];
    oauth_google.endpoints(&cfg, &e);
    oauth_pkce_new(&oauth_google, v, st, ch);
    CHECK(all_hex(v, 128));
    CHECK(all_hex(st, 64));
    secret_sha256_b64url(v, want);
    CHECK_STR(ch, want);
    char *u = oauth_authorize_url(&oauth_google, &e, NULL, ch, st);
    char *expect = NULL;
    REQUIRE(asprintf(&expect,
                     "https://accounts.google.com/o/oauth2/v2/auth?access_type=offline&client_id="
                     "681255809395-x.apps.googleusercontent.com&response_type=code&redirect_uri="
                     "https%%3A%%2F%%2Fcodeassist.google.com%%2Fauthcode&scope=https%%3A%%2F%%2F"
                     "www.googleapis.com%%2Fauth%%2Fcloud-platform&code_challenge=%s"
                     "&code_challenge_method=S256&state=%s&prompt=select_account",
                     ch, st) > 0);
    CHECK_STR(u, expect);
    free(u);
    free(expect);
    sodium_memzero(v, sizeof(v));
}

TEST(google_token_requests_form_with_client_secret)
{
    struct oauth_endpoints e;
    oauth_google.endpoints(&cfg, &e);
    CHECK_STR(oauth_content_type(&oauth_google), "Content-Type: application/x-www-form-urlencoded");
    CHECK_STR(e.token_url, "https://oauth2.googleapis.com/token");
    char *b = oauth_exchange_body(&oauth_google, &e, "4/0Ab+c", "verif", "st", 0);
    CHECK_STR(b, "grant_type=authorization_code&client_id=681255809395-x.apps.googleusercontent."
                 "com&client_secret=GOCSPX-test&code=4%2F0Ab%2Bc&redirect_uri=https%3A%2F%2F"
                 "codeassist.google.com%2Fauthcode&code_verifier=verif");
    free(b);
    b = oauth_refresh_body(&oauth_google, &e, "1//rt");
    CHECK_STR(b, "grant_type=refresh_token&refresh_token=1%2F%2Frt&client_id=681255809395-x.apps."
                 "googleusercontent.com&client_secret=GOCSPX-test");
    free(b);
    CHECK_STR(oauth_google.name, "gemini"); /* token_refresh_lock:gemini:{id} */
}

TEST(openai_authorize_url_and_refresh_scope)
{
    struct oauth_endpoints e;
    oauth_openai.endpoints(&cfg, &e);
    CHECK(e.client_secret == NULL);
    char *u = oauth_authorize_url(&oauth_openai, &e, NULL, "CH", "ST");
    CHECK_STR(u, "https://auth.openai.com/oauth/authorize?client_id=app_EMoamEEZ73f0CkXaXp7hrann"
                 "&response_type=code&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback"
                 "&scope=openid%20profile%20email%20offline_access&code_challenge=CH"
                 "&code_challenge_method=S256&state=ST&id_token_add_organizations=true"
                 "&codex_cli_simplified_flow=true");
    free(u);
    char *b = oauth_exchange_body(&oauth_openai, &e, "ac_1", "v", "ST", 0);
    CHECK_STR(b, "grant_type=authorization_code&client_id=app_EMoamEEZ73f0CkXaXp7hrann&code=ac_1"
                 "&redirect_uri=http%3A%2F%2Flocalhost%3A1455%2Fauth%2Fcallback&code_verifier=v");
    free(b);
    b = oauth_refresh_body(&oauth_openai, &e, "rt");
    CHECK_STR(b, "grant_type=refresh_token&refresh_token=rt&client_id=app_EMoamEEZ73f0CkXaXp7hrann"
                 "&scope=openid%20profile%20email");
    free(b);
}

TEST(claude_json_bodies_keep_their_shape)
{
    struct oauth_endpoints e;
    oauth_claude.endpoints(&cfg, &e);
    char *u = oauth_authorize_url(&oauth_claude, &e, "user:inference", "CH", "ST");
    CHECK(strstr(u, "/oauth/authorize?code=true&client_id=9d1c250a") != NULL);
    CHECK(strstr(u, "&scope=user%3Ainference&") != NULL);
    free(u);
    char *b = oauth_exchange_body(&oauth_claude, &e, "c0de", "v", "ST", 31536000);
    cJSON *j = json_parse(b, strlen(b), 4, true);
    CHECK_STR(json_str(j, "grant_type", ""), "authorization_code");
    CHECK_STR(json_str(j, "state", ""), "ST");
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(j, "expires_in")));
    CHECK(cJSON_GetObjectItem(j, "client_secret") == NULL);
    cJSON_Delete(j);
    free(b);
}

/* header.payload.signature, the payload base64url without padding. */
static char *jwt(const char *payload)
{
    char b64[1024];
    sodium_bin2base64(b64, sizeof(b64), (const unsigned char *)payload, strlen(payload),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    char *out = NULL;
    return asprintf(&out, "eyJhbGciOiJIUzI1NiJ9.%s.c2ln", b64) > 0 ? out : NULL;
}

TEST(openai_answer_claims_and_defaults)
{
    char *t = jwt("{\"email\":\"u@example.com\",\"https://api.openai.com/auth\":{"
                  "\"chatgpt_account_id\":\"acct-1\",\"chatgpt_user_id\":\"user-1\","
                  "\"chatgpt_plan_type\":\"plus\"}}");
    char *body = NULL, err[200] = "";
    REQUIRE(asprintf(&body, "{\"access_token\":\"at\",\"id_token\":\"%s\"}", t) > 0);
    struct oauth_tokens tok;
    REQUIRE(oauth_tokens_parse(&oauth_openai, body, strlen(body), 1000000, &tok, err,
                               sizeof(err)) == 0);
    CHECK_STR(tok.access, "at");
    CHECK(tok.refresh == NULL); /* the stored one is kept */
    CHECK_INT(tok.expires_at_ms, (1000 + 3600) * 1000LL);
    CHECK_STR(json_str(tok.fields, "accountId", ""), "acct-1");
    CHECK_STR(json_str(tok.fields, "chatgptUserId", ""), "user-1");
    CHECK_STR(json_str(tok.fields, "planType", ""), "plus");
    CHECK_STR(json_str(tok.fields, "email", ""), "u@example.com");
    oauth_tokens_release(&tok);
    free(body);
    free(t);
    CHECK(oauth_jwt_claims("not-a-jwt") == NULL);
    CHECK(oauth_jwt_claims("a.!!!.b") == NULL);
}

TEST(claude_answer_needs_expires_in)
{
    static const char body[] = "{\"access_token\":\"at\",\"refresh_token\":\"rt\"}";
    struct oauth_tokens tok;
    char err[200] = "";
    CHECK_INT(oauth_tokens_parse(&oauth_claude, body, strlen(body), 0, &tok, err, sizeof(err)),
              -ERR_PARSE);
    CHECK(strstr(err, "expires_in") != NULL);
    static const char ok[] = "{\"access_token\":\"at\",\"refresh_token\":\"rt\",\"expires_in\":60,"
                             "\"scope\":\"user:inference\",\"organization\":{\"uuid\":\"o-1\"}}";
    REQUIRE(oauth_tokens_parse(&oauth_claude, ok, strlen(ok), 5000, &tok, err, sizeof(err)) == 0);
    CHECK_STR(tok.refresh, "rt");
    CHECK_INT(tok.expires_at_ms, 65000);
    CHECK_STR(json_str(tok.fields, "scopes", ""), "user:inference");
    CHECK_STR(json_str(tok.fields, "organization", ""), "o-1");
    oauth_tokens_release(&tok);
}

int main(int argc, char **argv)
{
    static const struct test tests[] = {
        T(google_authorize_url_offline_select_account_s256),
        T(google_token_requests_form_with_client_secret),
        T(openai_authorize_url_and_refresh_scope),
        T(claude_json_bodies_keep_their_shape),
        T(openai_answer_claims_and_defaults),
        T(claude_answer_needs_expires_in),
    };
    return harness_main(argc, argv, tests, ARRAY_SIZE(tests));
}
