package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import okhttp3.Headers;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Which headers cross the proxy in each direction. */
class HeaderRulesTest {

  private static Map.Entry<String, String> h(String name, String value) {
    return new SimpleImmutableEntry<>(name, value);
  }

  private static Headers upstreamOf(List<Map.Entry<String, String>> client) {
    return HeaderRules.toUpstream(client);
  }

  @Nested
  class ToUpstream {

    @ParameterizedTest(name = "{0} is forwarded")
    @CsvSource(delimiter = '|', value = {
        "Authorization|Bearer sk-test-123",
        "x-api-key|key-123",
        "api-key|azure-key",
        "Content-Type|application/json",
        "OpenAI-Organization|org-123",
        "OpenAI-Project|proj_123",
        "User-Agent|OpenAI/Java 4.8.0",
        "Accept|text/event-stream",
        "anthropic-version|2023-06-01",
        "HTTP-Referer|https://my.app",
        "X-Title|My App"})
    void ordinaryAndCredentialHeadersAreForwardedUnchanged(String name, String value) {
      Headers out = upstreamOf(List.of(h(name, value)));

      assertThat(out.size()).isEqualTo(1);
      assertThat(out.name(0)).isEqualTo(name);
      assertThat(out.value(0)).isEqualTo(value);
    }

    @ParameterizedTest(name = "{0} is dropped")
    @CsvSource(delimiter = '|', value = {
        "Host|localhost:8080",
        "Content-Length|42",
        "Accept-Encoding|gzip, br",
        "Cookie|session=abc",
        "Connection|keep-alive",
        "Keep-Alive|timeout=5",
        "Proxy-Connection|keep-alive",
        "TE|trailers",
        "Transfer-Encoding|chunked",
        "Upgrade|h2c",
        "Trailer|Expires",
        "Proxy-Authorization|Basic cHJveHk6c2VjcmV0",
        "Expect|100-continue",
        "X-Forwarded-For|10.0.0.1",
        "X-Forwarded-Host|internal",
        "X-Forwarded-Proto|http",
        "X-Real-IP|10.0.0.1",
        "Forwarded|for=10.0.0.1",
        "Via|1.1 corp-proxy",
        "Origin|https://evil.example",
        "Referer|https://my.app/chat",
        "Sec-Fetch-Mode|cors",
        "Sec-Fetch-Site|cross-site",
        "HTTP2-Settings|AAMAAABkAAQAoAAAAAIAAAAA",
        "X-Thinkproxy-Mode|wrap",
        "X-Thinkproxy-Implicit-Open|true"})
    void hopByHopFramingCookieForwardingBrowserAndControlHeadersAreDropped(String name, String value) {
      Headers out = upstreamOf(List.of(h(name, value), h("Authorization", "Bearer k")));

      assertThat(out.names()).containsExactly("Authorization");
    }

    @Test
    void headerNamesAreMatchedCaseInsensitively() {
      Headers out = upstreamOf(List.of(h("HOST", "x"), h("cookie", "a=b"), h("x-thinkproxy-MODE", "off"),
          h("authorization", "Bearer k")));

      assertThat(out.names()).containsExactly("authorization");
    }

    @Test
    void headersNamedInConnectionAreDropped() {
      Headers out = upstreamOf(List.of(h("Connection", "close, X-Secret"), h("X-Secret", "s3cr3t"),
          h("X-Other", "kept"), h("Authorization", "Bearer k")));

      assertThat(out.names()).containsExactlyInAnyOrder("X-Other", "Authorization");
    }

    @Test
    void connectionListMatchingIgnoresCaseAndSpaces() {
      Headers out = upstreamOf(List.of(h("connection", "  x-secret ,Foo"), h("X-SECRET", "s"), h("foo", "f"),
          h("Bar", "b")));

      assertThat(out.names()).containsExactly("Bar");
    }

    @ParameterizedTest(name = "value {0} is dropped")
    @ValueSource(strings = {"a\r\nX-Injected: 1", "a\nb", "a\rb", "caf\u00e9", "\u0000", "emoji \uD83D\uDE00"})
    void valueWithCrLfControlOrNonAsciiCharactersIsDropped(String value) {
      Headers out = upstreamOf(List.of(h("X-Custom", value), h("Authorization", "Bearer k")));

      assertThat(out.names()).containsExactly("Authorization");
    }

    @Test
    void valueWithTabIsForwarded() {
      Headers out = upstreamOf(List.of(h("X-Custom", "a\tb")));

      assertThat(out.get("X-Custom")).isEqualTo("a\tb");
    }

    @ParameterizedTest(name = "name {0} is dropped")
    @ValueSource(strings = {"", "Bad Name", "Bad:Name", "Bäd", "Bad\r\nName"})
    void headerWithAnInvalidNameIsDropped(String name) {
      Headers out = upstreamOf(List.of(h(name, "v"), h("Authorization", "Bearer k")));

      assertThat(out.names()).containsExactly("Authorization");
    }

    @Test
    void repeatedHeadersKeepTheirOrder() {
      Headers out = upstreamOf(List.of(h("X-A", "1"), h("X-B", "2"), h("X-A", "3")));

      assertThat(out.values("X-A")).containsExactly("1", "3");
      assertThat(out.name(0)).isEqualTo("X-A");
      assertThat(out.name(1)).isEqualTo("X-B");
    }
  }

  @Nested
  class ToClient {

    private List<Map.Entry<String, String>> toClient(Headers upstream, boolean rewritten) {
      return HeaderRules.toClient(upstream, rewritten);
    }

    private List<String> names(List<Map.Entry<String, String>> headers) {
      List<String> out = new ArrayList<>();
      for (Map.Entry<String, String> e : headers) {
        out.add(e.getKey());
      }
      return out;
    }

    @ParameterizedTest(name = "{0} reaches the client")
    @CsvSource(delimiter = '|', value = {
        "Retry-After|20",
        "x-ratelimit-remaining-requests|59",
        "x-ratelimit-reset-tokens|6m0s",
        "x-request-id|req_123",
        "Content-Type|text/event-stream; charset=utf-8",
        "Cache-Control|no-cache",
        "openai-processing-ms|321"})
    void rateLimitRequestIdAndContentTypeHeadersReachTheClient(String name, String value) {
      List<Map.Entry<String, String>> out = toClient(Headers.of(name, value), true);

      assertThat(out).containsExactly(h(name, value));
    }

    @ParameterizedTest(name = "{0} is dropped")
    @CsvSource(delimiter = '|', value = {
        "Set-Cookie|__cf_bm=abc; path=/",
        "Strict-Transport-Security|max-age=31536000",
        "Alt-Svc|h3=\":443\"",
        "Transfer-Encoding|chunked",
        "Connection|keep-alive",
        "Keep-Alive|timeout=5",
        "Upgrade|h2",
        "Trailer|Expires",
        "Proxy-Authenticate|Basic",
        // The proxy, not the provider, decides what browsers may read.
        "Access-Control-Allow-Origin|*",
        "access-control-allow-credentials|true",
        "Access-Control-Expose-Headers|*"})
    void cookiesOriginPinningCorsAndHopByHopHeadersAreDropped(String name, String value) {
      List<Map.Entry<String, String>> out = toClient(Headers.of(name, value, "x-request-id", "r"), false);

      assertThat(names(out)).containsExactly("x-request-id");
    }

    @Test
    void headersNamedInConnectionAreDropped() {
      Headers upstream = Headers.of("Connection", "X-Internal", "X-Internal", "secret", "x-request-id", "r");

      assertThat(names(toClient(upstream, false))).containsExactly("x-request-id");
    }

    @Test
    void lengthAndEncodingAreDroppedWhenTheBodyIsRewritten() {
      Headers upstream = Headers.of("Content-Length", "123", "Content-Encoding", "gzip", "Content-Type",
          "application/json");

      assertThat(names(toClient(upstream, true))).containsExactly("Content-Type");
    }

    @Test
    void lengthAndEncodingAreKeptWhenTheBodyPassesThrough() {
      Headers upstream = Headers.of("Content-Length", "123", "Content-Encoding", "gzip", "Content-Type",
          "application/json");

      assertThat(names(toClient(upstream, false))).containsExactly("Content-Length", "Content-Encoding",
          "Content-Type");
    }

    @Test
    void valueWithNonAsciiCharactersIsDropped() {
      Headers upstream = new Headers.Builder().addUnsafeNonAscii("X-Note", "caf\u00e9").add("x-request-id", "r")
          .build();

      assertThat(names(toClient(upstream, false))).containsExactly("x-request-id");
    }

    @Test
    void headerOrderIsKept() {
      Headers upstream = Headers.of("x-ratelimit-limit-requests", "60", "Content-Type", "application/json",
          "x-ratelimit-remaining-requests", "59", "Retry-After", "1");

      assertThat(names(toClient(upstream, true))).containsExactly("x-ratelimit-limit-requests", "Content-Type",
          "x-ratelimit-remaining-requests", "Retry-After");
    }
  }
}
