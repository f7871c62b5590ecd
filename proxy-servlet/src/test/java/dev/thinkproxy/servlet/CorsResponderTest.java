package dev.thinkproxy.servlet;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.servlet.CorsResponder.Preflight;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The CORS decisions of {@link CorsResponder}, without a container. */
class CorsResponderTest {
  private static final String APP = "https://chat.example.com";
  private static final ObjectMapper JSON = new ObjectMapper();

  private static CorsResponder responder(CorsPolicy policy) {
    return new CorsResponder(policy, "X-Thinkproxy-Key");
  }

  private static CorsResponder forApp() {
    return responder(CorsPolicy.builder().allowOrigin(APP).build());
  }

  /** Header names in lower case to their values; every header here appears once. */
  private static Map<String, String> asMap(List<Map.Entry<String, String>> headers) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Map.Entry<String, String> h : headers) {
      String previous = out.put(h.getKey().toLowerCase(Locale.ROOT), h.getValue());
      assertThat(previous).as("%s appears once", h.getKey()).isNull();
    }
    return out;
  }

  private static Map<String, String> allowing(Map<String, String> headers) {
    Map<String, String> out = new LinkedHashMap<>(headers);
    out.keySet().removeIf(name -> !name.startsWith("access-control-"));
    return out;
  }

  @Test
  void allowedPreflightEchoesTheOriginAndTheRequestedHeaders() {
    Preflight answer = forApp().preflight(APP, "POST", "authorization, content-type, x-stainless-os");

    assertThat(answer.refusal()).isNull();
    assertThat(asMap(answer.headers())).containsExactlyInAnyOrderEntriesOf(Map.of(
        "access-control-allow-origin", APP,
        "access-control-allow-methods", "GET, POST, PUT, PATCH, DELETE",
        "access-control-allow-headers", "authorization, content-type, x-stainless-os",
        "access-control-max-age", "600",
        "vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"));
  }

  @ParameterizedTest(name = "{0} may be sent")
  @ValueSource(strings = {
      "Authorization", "Content-Type", "Accept", "User-Agent", "X-Thinkproxy-Key", "X-Thinkproxy-Mode",
      "x-thinkproxy-implicit-open", "OpenAI-Organization", "OpenAI-Project", "OpenAI-Beta", "X-Stainless-Lang",
      "x-stainless-package-version", "X-Stainless-Retry-Count", "X-Stainless-Timeout", "x-api-key",
      "anthropic-version", "anthropic-beta", "anthropic-dangerous-direct-browser-access", "HTTP-Referer",
      "X-Title"})
  void headersTheSdksSendFromABrowserAreAllowed(String header) {
    Preflight answer = forApp().preflight(APP, "POST", header);

    assertThat(answer.refusal()).as("refusal").isNull();
    assertThat(asMap(answer.headers())).containsEntry("access-control-allow-headers", header.toLowerCase(Locale.ROOT));
  }

  @Test
  void aConfiguredProxyKeyHeaderIsAllowed() {
    CorsResponder responder = new CorsResponder(CorsPolicy.builder().allowOrigin(APP).build(), "X-Gateway-Token");

    assertThat(responder.preflight(APP, "POST", "x-gateway-token").refusal()).isNull();
  }

  @Test
  void noRequestedHeadersMeansNoAllowHeaders() {
    Preflight answer = forApp().preflight(APP, "GET", "");

    assertThat(answer.refusal()).isNull();
    assertThat(asMap(answer.headers())).doesNotContainKey("access-control-allow-headers");
  }

  @Test
  void wildcardPolicyAnswersWildcardAndCredentialsOnlyWhenConfigured() {
    Map<String, String> wildcard = asMap(responder(CorsPolicy.builder().allowOrigin("*").build())
        .preflight("https://any.example", "POST", "authorization").headers());
    Map<String, String> credentialed = asMap(
        responder(CorsPolicy.builder().allowOrigin(APP).allowCredentials(true).build())
            .preflight(APP, "POST", "authorization").headers());

    assertThat(wildcard).containsEntry("access-control-allow-origin", "*")
        .doesNotContainKey("access-control-allow-credentials");
    assertThat(credentialed).containsEntry("access-control-allow-origin", APP)
        .containsEntry("access-control-allow-credentials", "true");
  }

  @Test
  void maxAgeIsSentInWholeSeconds() {
    CorsResponder responder = responder(CorsPolicy.builder().allowOrigin(APP).maxAge(Duration.ofMillis(90_500))
        .build());

    assertThat(asMap(responder.preflight(APP, "POST", "").headers())).containsEntry("access-control-max-age", "90");
  }

  @Test
  void disallowedOriginIsRefusedWithoutAllowingHeaders() throws IOException {
    Preflight answer = forApp().preflight("https://evil.example", "POST", "authorization");

    assertRefused(answer, "https://evil.example");
  }

  @ParameterizedTest(name = "method {0} is refused")
  @ValueSource(strings = {"TRACE", "CONNECT", "OPTIONS", "HEAD", "post", "PROPFIND"})
  void methodsOutsideTheApiAreRefused(String method) throws IOException {
    assertRefused(forApp().preflight(APP, method, ""), method);
  }

  @ParameterizedTest(name = "header {0} is refused")
  @ValueSource(strings = {"cookie", "x-forwarded-for", "x-custom", "proxy-authorization", "x-stainless"})
  void anyOtherRequestedHeaderIsRefused(String header) throws IOException {
    assertRefused(forApp().preflight(APP, "POST", "authorization, " + header), header);
  }

  @Test
  void actualRequestFromAnAllowedOriginMayReadTheResponse() {
    Map<String, String> headers = asMap(forApp().responseHeaders(APP));

    assertThat(headers).containsEntry("access-control-allow-origin", APP)
        .containsEntry("vary", "Origin")
        .doesNotContainKey("access-control-allow-credentials");
    assertThat(headers.get("access-control-expose-headers").split(", ")).contains(
        "x-request-id", "retry-after", "x-ratelimit-limit-requests", "x-ratelimit-limit-tokens",
        "x-ratelimit-remaining-requests", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-requests",
        "x-ratelimit-reset-tokens", "openai-processing-ms");
  }

  @Test
  void actualRequestFromAnotherOriginOrNoneGetsOnlyVary() {
    assertThat(asMap(forApp().responseHeaders("https://evil.example"))).containsExactly(Map.entry("vary", "Origin"));
    assertThat(asMap(forApp().responseHeaders(null))).containsExactly(Map.entry("vary", "Origin"));
  }

  @Test
  void wildcardActualResponseNeedsNoVary() {
    Map<String, String> headers = asMap(responder(CorsPolicy.builder().allowOrigin("*").build())
        .responseHeaders("https://any.example"));

    assertThat(headers).containsEntry("access-control-allow-origin", "*").doesNotContainKey("vary");
  }

  @Test
  void credentialsAreAllowedOnActualResponsesOnlyWhenConfigured() {
    CorsResponder responder = responder(CorsPolicy.builder().allowOrigin(APP).allowCredentials(true).build());

    assertThat(asMap(responder.responseHeaders(APP))).containsEntry("access-control-allow-credentials", "true");
  }

  @Test
  void corsOffAddsNothing() {
    assertThat(responder(CorsPolicy.disabled()).responseHeaders(APP)).isEmpty();
  }

  private static void assertRefused(Preflight answer, String named) throws IOException {
    assertThat(answer.refusal()).as("refusal").isNotNull();
    assertThat(answer.refusal().status()).isEqualTo(403);
    assertThat(allowing(asMap(answer.headers()))).as("CORS headers of a refusal").isEmpty();
    JsonNode error = JSON.readTree(new String(answer.refusal().toJson(), UTF_8)).path("error");
    assertThat(error.path("type").asText()).isEqualTo("invalid_request_error");
    assertThat(error.path("code").asText()).isEqualTo("cors_not_allowed");
    assertThat(error.path("message").asText()).contains(named);
  }
}
