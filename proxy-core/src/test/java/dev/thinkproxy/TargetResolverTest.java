package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.stream.Stream;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.DisplayName;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The upstream URL comes from the raw request path after the mount point (see java-notes §1, the 17 container URL
 * forms). Every accepted form must give exactly the URL that will be fetched; every form that could make the checked
 * URL differ from the fetched one is refused with 400 before any network I/O.
 */
class TargetResolverTest {

  static Stream<Arguments> acceptedForms() {
    return Stream.of(
        Arguments.of("plain https://host form",
            "/https://llm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("collapsed https:/host form (what Tomcat leaves)",
            "/https:/llm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("fully percent-encoded scheme and slashes",
            "/https%3A%2F%2Fllm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("encoded slashes only",
            "/https:%2F%2Fllm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("encoded colon only",
            "/https%3A//llm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("mixed-case scheme and lower-case hex escapes",
            "/HTTPS%3a%2f%2fllm.chutes.ai/v1/chat/completions", null,
            "https://llm.chutes.ai/v1/chat/completions"),
        Arguments.of("explicit port is kept",
            "/http://127.0.0.1:9000/v1/chat/completions", null,
            "http://127.0.0.1:9000/v1/chat/completions"),
        Arguments.of("percent-encoded IPv6 literal with port",
            "/http%3A%2F%2F%5B%3A%3A1%5D%3A9000/v1/chat/completions", null,
            "http://[::1]:9000/v1/chat/completions"),
        Arguments.of("path prefix and query are kept",
            "/https://openrouter.ai/api/v1/chat/completions", "x=1",
            "https://openrouter.ai/api/v1/chat/completions?x=1"),
        Arguments.of("longer path prefix",
            "/https://api.groq.com/openai/v1/chat/completions", null,
            "https://api.groq.com/openai/v1/chat/completions"),
        Arguments.of("fully encoded base including its path prefix",
            "/https%3A%2F%2Fopenrouter.ai%2Fapi/v1/chat/completions", null,
            "https://openrouter.ai/api/v1/chat/completions"),
        Arguments.of("double slash inside the upstream path is kept as sent",
            "/https://llm.chutes.ai//v1/chat/completions", null,
            "https://llm.chutes.ai//v1/chat/completions"),
        Arguments.of("collapsed form with a double slash further on",
            "/https:/llm.chutes.ai//v1/chat/completions", null,
            "https://llm.chutes.ai//v1/chat/completions"),
        Arguments.of("host without a path gets the root path",
            "/https://api.openai.com", null,
            "https://api.openai.com/"),
        Arguments.of("raw query with encoded characters is kept verbatim",
            "/https://api.openai.com/v1/chat/completions", "y=%5Ba%5D&z=%2F",
            "https://api.openai.com/v1/chat/completions?y=%5Ba%5D&z=%2F"));
  }

  @ParameterizedTest(name = "accepts {0}: {1}")
  @MethodSource("acceptedForms")
  void acceptedBaseFormResolvesToTheUpstreamUrl(String description, String rawPath, String rawQuery, String expected) {
    HttpUrl url = TargetResolver.resolve(rawPath, rawQuery);

    assertThat(url).as(description).isEqualTo(HttpUrl.get(expected));
    assertThat(url.toString()).isEqualTo(HttpUrl.get(expected).toString());
  }

  @Test
  void explicitPortIsKept() {
    HttpUrl url = TargetResolver.resolve("/http://127.0.0.1:9000/v1/chat/completions", null);

    assertThat(url.host()).isEqualTo("127.0.0.1");
    assertThat(url.port()).isEqualTo(9000);
  }

  @Test
  void percentEncodedIpv6LiteralGivesHostAndPort() {
    HttpUrl url = TargetResolver.resolve("/http%3A%2F%2F%5B%3A%3A1%5D%3A9000/v1/chat/completions", null);

    assertThat(url.scheme()).isEqualTo("http");
    assertThat(url.host()).isEqualTo("::1");
    assertThat(url.port()).isEqualTo(9000);
    assertThat(url.encodedPath()).isEqualTo("/v1/chat/completions");
  }

  @Test
  void pathPrefixAndQueryAreKept() {
    HttpUrl url = TargetResolver.resolve("/https://openrouter.ai/api/v1/chat/completions", "x=1");

    assertThat(url.host()).isEqualTo("openrouter.ai");
    assertThat(url.encodedPath()).isEqualTo("/api/v1/chat/completions");
    assertThat(url.encodedQuery()).isEqualTo("x=1");
  }

  @Test
  void doubleSlashInsideTheUpstreamPathIsNotCollapsed() {
    HttpUrl url = TargetResolver.resolve("/https://llm.chutes.ai//v1/chat/completions", null);

    assertThat(url.encodedPath()).isEqualTo("//v1/chat/completions");
  }

  @Test
  void defaultPortFollowsTheScheme() {
    assertThat(TargetResolver.resolve("/https://api.openai.com/v1", null).port()).isEqualTo(443);
    assertThat(TargetResolver.resolve("/http://api.openai.com/v1", null).port()).isEqualTo(80);
  }

  static Stream<Arguments> rejectedForms() {
    return Stream.of(
        Arguments.of("empty path", ""),
        Arguments.of("only the slash after the mount", "/"),
        Arguments.of("no scheme at all", "/llm.chutes.ai/v1/chat/completions"),
        Arguments.of("scheme without slashes", "/https:llm.chutes.ai/v1"),
        Arguments.of("ftp scheme", "/ftp://x/"),
        Arguments.of("websocket scheme (OkHttp would silently turn it into http)", "/ws://host/v1"),
        Arguments.of("secure websocket scheme", "/wss://host/v1"),
        Arguments.of("file scheme", "/file:///etc/passwd"),
        Arguments.of("userinfo", "/https://user:pw@host/v1"),
        Arguments.of("userinfo without password", "/https://user@host/v1"),
        Arguments.of("encoded userinfo", "/https%3A%2F%2Fuser%3Apw%40host/v1"),
        Arguments.of("dot-dot segments that climb out of the host", "/https://host/../../etc/passwd"),
        Arguments.of("single dot segment", "/https://host/./v1/chat/completions"),
        Arguments.of("trailing dot-dot segment", "/https://host/v1/.."),
        Arguments.of("encoded lower-case dot-dot", "/https://host/a/%2e%2e/b"),
        Arguments.of("encoded upper-case dot-dot", "/https://host/v1/%2E%2E/x"),
        Arguments.of("half-encoded dot-dot", "/https://host/v1/.%2E/x"),
        Arguments.of("dot-dot hidden behind an encoded slash", "/https://host/v1%2F..%2Fadmin"),
        Arguments.of("dot-dot inside the encoded base", "/https%3A%2F%2Fhost%2F..%2Fadmin/v1"),
        Arguments.of("raw backslashes instead of slashes", "/https:\\\\host\\v1/chat/completions"),
        Arguments.of("backslash in the host", "/https://host\\evil/v1"),
        Arguments.of("backslash in the path", "/https://host/v1\\..\\x"),
        Arguments.of("NUL character in the path", "/https://host/v1\u0000/chat"),
        Arguments.of("CR LF in the path", "/https://host/v1\r\nHost: evil/chat"),
        Arguments.of("tab in the host", "/https://ho\tst/v1"),
        Arguments.of("DEL character in the path", "/https://host/v1\u007f"),
        Arguments.of("encoded NUL in the path", "/https://host/v1%00/chat"),
        Arguments.of("encoded CR LF in the path", "/https://host/v1%0d%0a/chat"),
        Arguments.of("encoded NUL in the host", "/https%3A%2F%2Fhost%00.example/v1"),
        Arguments.of("semicolon in the authority", "/http://1.1.1.1;@127.0.0.1:4444/v1"),
        Arguments.of("fragment in the path", "/https://host/v1#frag"),
        Arguments.of("fragment in the authority", "/https://host#@evil/v1"),
        Arguments.of("percent-encoded zone id", "/http://[fe80::1%25eth0]:8080/v1"),
        Arguments.of("raw zone id", "/http://[fe80::1%eth0]/v1"),
        Arguments.of("zone id inside an encoded base", "/http%3A%2F%2F%5Bfe80%3A%3A1%2525eth0%5D/v1"),
        Arguments.of("unterminated IPv6 literal", "/http://[::1/v1"),
        Arguments.of("garbage after an IPv6 literal", "/http://[::1]x/v1"),
        Arguments.of("IPv4 literal in brackets", "/http://[127.0.0.1]/v1"),
        Arguments.of("unbracketed IPv6 literal", "/http://::1/v1"),
        Arguments.of("port 0", "/http://host:0/v1"),
        Arguments.of("port 65536", "/http://host:65536/v1"),
        Arguments.of("port with a plus sign", "/http://host:+80/v1"),
        Arguments.of("empty port", "/http://host:/v1"),
        Arguments.of("empty port after an IPv6 literal", "/http://[::1]:/v1"),
        Arguments.of("negative port", "/http://host:-1/v1"),
        Arguments.of("non-numeric port", "/http://host:http/v1"),
        Arguments.of("two ports", "/http://host:80:81/v1"),
        Arguments.of("decimal dword host", "/http://2130706433/v1"),
        Arguments.of("hexadecimal dword host", "/http://0x7f000001/v1"),
        Arguments.of("short dotted host", "/http://127.1/v1"),
        Arguments.of("octal first octet", "/http://0177.0.0.1/v1"),
        Arguments.of("the single number 0", "/http://0/v1"),
        Arguments.of("zero-padded octet", "/http://127.000.0.1/v1"),
        Arguments.of("hexadecimal last label", "/http://127.0.0.0x1/v1"),
        Arguments.of("five numeric labels", "/http://1.2.3.4.5/v1"),
        Arguments.of("decimal dword host with a trailing dot", "/http://2130706433./v1"),
        Arguments.of("dotted quad with a trailing dot", "/http://127.0.0.1./v1"),
        Arguments.of("public dotted quad with a trailing dot, which the system resolver would see", "/http://8.8.8.8./v1"),
        Arguments.of("full-width dotted quad with a full-width trailing dot", "/http://１２７．０．０．１．/v1"),
        Arguments.of("dotted quad with an ideographic trailing dot", "/http://127.0.0.1。/v1"),
        Arguments.of("IDN digits that map to 127.0.0.1", "/http://①②⑦.⓪.⓪.①/v1"),
        Arguments.of("percent-encoded IDN digits that map to 127.0.0.1",
            "/http%3A%2F%2F%E2%91%A0%E2%91%A1%E2%91%A6.%E2%93%AA.%E2%93%AA.%E2%91%A0/v1"),
        Arguments.of("full-width digits that map to 127.0.0.1", "/http://１２７.０.０.１/v1"),
        Arguments.of("IDN digits that map to the short form 127.1", "/http://①②⑦.①/v1"),
        Arguments.of("full-width digits that map to a decimal dword", "/http://２１３０７０６４３３/v1"),
        Arguments.of("full-width characters that map to a hexadecimal dword", "/http://０ｘ７ｆ０００００１/v1"),
        Arguments.of("full-width solidus that maps to a slash in the host", "/https://evil.com／.example.com/v1"),
        Arguments.of("full-width colon that maps to a port separator", "/http://127.0.0.1：8080/v1"),
        Arguments.of("full-width percent sign in the host", "/http://host％2e/v1"),
        Arguments.of("full-width brackets around an IPv6 literal", "/http://［::1］/v1"),
        Arguments.of("three slashes: empty host", "/https:///host/v1"),
        Arguments.of("four slashes: empty host", "/https:////host/v1"),
        Arguments.of("double-encoded digits in the host", "/http://%2531%2532%2537.0.0.1/v1"),
        Arguments.of("encoded digits in the host", "/http://%31%32%37.0.0.1/v1"),
        Arguments.of("encoded host after the collapsed form", "/https:/%31%32%37.0.0.1/v1"),
        Arguments.of("malformed percent escape in the base", "/https%3A%2F%2Fhost%2/v1"),
        Arguments.of("comma in the host", "/https://a.com,b.com/v1"),
        Arguments.of("space in the host", "/https://ho st/v1"));
  }

  @ParameterizedTest(name = "rejects {0}: {1}")
  @MethodSource("rejectedForms")
  void unsafeOrMalformedBaseIsRejectedWith400(String description, String rawPath) {
    ProxyException e = catchThrowableOfType(ProxyException.class, () -> TargetResolver.resolve(rawPath, null));

    assertThat(e).as(description + " must be refused, resolved to something instead").isNotNull();
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.code()).isEqualTo("invalid_target_url");
    assertThat(e.getMessage()).isNotBlank();
  }

  @ParameterizedTest(name = "rejects query {0}")
  @MethodSource("rejectedQueries")
  void controlCharactersInTheQueryAreRejectedWith400(String description, String rawQuery) {
    ProxyException e = catchThrowableOfType(ProxyException.class,
        () -> TargetResolver.resolve("/https://api.openai.com/v1/chat/completions", rawQuery));

    assertThat(e).as(description).isNotNull();
    assertThat(e.status()).isEqualTo(400);
    assertThat(e.getMessage()).isNotBlank();
  }

  static Stream<Arguments> rejectedQueries() {
    return Stream.of(
        Arguments.of("CR LF", "x=1\r\nHost: evil"),
        Arguments.of("NUL", "x=\u0000"),
        Arguments.of("encoded NUL", "x=%00"),
        Arguments.of("encoded LF", "x=%0A"));
  }

  @Test
  @DisplayName("the error for a bad target is an OpenAI-style JSON error with a non-empty message")
  void badTargetErrorIsAnOpenAiStyleJsonError() {
    ProxyException e = catchThrowableOfType(ProxyException.class, () -> TargetResolver.resolve("/ftp://x/", null));

    String json = new String(e.toJson(), java.nio.charset.StandardCharsets.UTF_8);
    assertThat(json).startsWith("{\"error\":{\"message\":\"").contains("\"code\":\"invalid_target_url\"");
    assertThat(e.getMessage()).contains("ftp");
  }
}
