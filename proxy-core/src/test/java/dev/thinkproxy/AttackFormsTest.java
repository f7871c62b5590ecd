package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.NetworkInterface;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.AbstractList;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.Dns;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Named;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * SSRF attack forms sent through the real {@link ChatCompletionProxy#forward} with the default policy
 * (security.md §2 and §3): every form is answered with 400 (malformed or ambiguous URL) or 403 (a well-formed URL
 * naming a forbidden destination) and an OpenAI-style JSON error, and none of them ever opens a connection.
 *
 * <p>The proof of "no connection" is a canary: a listener on 127.0.0.1 (and on ::1 at the same port, when this
 * machine has IPv6 loopback) that counts every connection it accepts. Every form that points at this machine
 * carries the canary's port ({@code {P}} in the table), so a form that slipped through would land there. Nothing
 * in this class can reach another machine: names are answered by a stub resolver (which says "this machine" for
 * every name, the hostile-DNS case), forms that point at other private ranges are refused by the same rules that
 * guard the sockets, and public addresses appear only where the test proves they are never handed to a dialler.
 */
class AttackFormsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  /** A public address (example.com's, at one time). It must never be dialled: see {@link FirstReadOnly}. */
  private static final InetAddress PUBLIC = address(93, 184, 215, 14);
  private static final InetAddress LOOPBACK = address(127, 0, 0, 1);

  private static Canary canary;
  private static StubDns dns;
  private static ChatCompletionProxy proxy;

  @BeforeAll
  static void startCanaryAndProxy() throws IOException {
    canary = Canary.start();
    dns = new StubDns(Map.of(
        "metadata.google.internal", List.of(address(169, 254, 169, 254)),
        "instance-data", List.of(address(169, 254, 169, 254)),
        "ip6-localhost", List.of(InetAddress.getByName("::1"))));
    // The default policy. The resolver stub only keeps lookups on this machine; the policy layers above it are
    // the proxy's own (PolicyDns, GuardedSocketFactory).
    proxy = ChatCompletionProxy.builder().dns(dns).build();
    assertThat(proxy.targetPolicy().allowPrivateNetworks()).isFalse();
    assertThat(proxy.targetPolicy().allowHosts()).isEmpty();
  }

  @AfterAll
  static void noAttackFormEverReachedTheCanary() throws Exception {
    try {
      assertThat(canary.connections()).as("connections accepted by the canary: %s", canary.peers()).isZero();
    } finally {
      proxy.close();
      canary.close();
    }
  }

  // ---- the table --------------------------------------------------------------------------------------------

  static Stream<Arguments> attackForms() {
    return Stream.of(
        // Numeric hosts that are not a canonical dotted quad: OkHttp hands them to InetAddress, which reads
        // most of them as 127.0.0.1 or 0.0.0.0, without asking Dns (security.md §3b, §3c).
        bad("decimal dword", "/http://2130706433:{P}/v1/chat/completions"),
        bad("decimal dword with a trailing dot", "/http://2130706433.:{P}/v1/chat/completions"),
        bad("hexadecimal dword", "/http://0x7f000001:{P}/v1/chat/completions"),
        bad("hexadecimal dword in upper case", "/http://0X7F000001:{P}/v1/chat/completions"),
        bad("dotted hexadecimal", "/http://0x7f.0x0.0x0.0x1:{P}/v1/chat/completions"),
        bad("hexadecimal first octet", "/http://0x7f.0.0.1:{P}/v1/chat/completions"),
        bad("octal dword", "/http://017700000001:{P}/v1/chat/completions"),
        bad("dotted octal", "/http://0177.0.0.1:{P}/v1/chat/completions"),
        bad("dotted octal, every octet padded", "/http://0177.0000.0000.0001:{P}/v1/chat/completions"),
        bad("short form 127.1", "/http://127.1:{P}/v1/chat/completions"),
        bad("three-part form 127.0.1", "/http://127.0.1:{P}/v1/chat/completions"),
        bad("short hexadecimal form 0x7f.1", "/http://0x7f.1:{P}/v1/chat/completions"),
        bad("the single number 0", "/http://0:{P}/v1/chat/completions"),
        bad("the number 00", "/http://00:{P}/v1/chat/completions"),
        bad("hexadecimal zero", "/http://0x0:{P}/v1/chat/completions"),
        bad("zero-padded octets", "/http://127.000.000.001:{P}/v1/chat/completions"),
        bad("zero-padded last octet", "/http://127.0.0.01:{P}/v1/chat/completions"),
        bad("hexadecimal last octet", "/http://127.0.0.0x1:{P}/v1/chat/completions"),
        bad("octet above 255", "/http://127.0.0.256:{P}/v1/chat/completions"),
        bad("five numeric labels", "/http://127.0.0.1.1:{P}/v1/chat/completions"),
        bad("broadcast as a decimal dword", "/http://4294967295:{P}/v1/chat/completions"),

        // Unicode that IDNA maps to digits, dots and letters (security.md §3a: OkHttp maps them, Java does not).
        bad("full-width digits and dots", "/http://１２７．０．０．１:{P}/v1/chat/completions"),
        bad("ideographic full stops", "/http://127。0。0。1:{P}/v1/chat/completions"),
        bad("half-width ideographic full stops", "/http://127｡0｡0｡1:{P}/v1/chat/completions"),
        bad("circled digits", "/http://①②⑦.⓪.⓪.①:{P}/v1/chat/completions"),
        bad("circled digits in the short form", "/http://①②⑦.①:{P}/v1/chat/completions"),
        bad("full-width decimal dword", "/http://２１３０７０６４３３:{P}/v1/chat/completions"),
        bad("full-width hexadecimal dword", "/http://０ｘ７ｆ０００００１:{P}/v1/chat/completions"),
        bad("full-width 0.0.0.0", "/http://０.０.０.０:{P}/v1/chat/completions"),
        bad("zero-width space after a loopback literal", "/http://127.0.0.1\u200b:{P}/v1/chat/completions"),
        bad("full-width colon as the port separator", "/http://127.0.0.1：{P}/v1/chat/completions"),
        bad("full-width brackets around ::1", "/http://［::1］:{P}/v1/chat/completions"),
        bad("full-width commercial at as userinfo", "/http://api.openai.com＠127.0.0.1:{P}/v1/chat/completions"),
        bad("one dot leaders instead of dots", "/http://127\u20240\u20240\u20241:{P}/v1/chat/completions"),
        bad("next-line character after localhost", "/http://localhost\u0085:{P}/v1/chat/completions"),
        bad("full-width solidus inside the host", "/http://127.0.0.1／.api.openai.com:{P}/v1/chat/completions"),
        refused("enclosed letters that spell localhost", "/http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{P}/v1/chat/completions"),
        refused("mixed enclosed letters that spell localhost", "/http://lⓞcaⓛhost:{P}/v1/chat/completions"),
        refused("full-width LOCALHOST", "/http://ＬＯＣＡＬＨＯＳＴ:{P}/v1/chat/completions"),
        refused("soft hyphen inside localhost", "/http://local\u00adhost:{P}/v1/chat/completions"),
        refused("subscript letter inside localhost", "/http://loca\u2097host:{P}/v1/chat/completions"),
        refused("punycode that decodes to localhost", "/http://xn--localhost-:{P}/v1/chat/completions"),
        refused("ideographic full stop after localhost", "/http://localhost\u3002:{P}/v1/chat/completions"),

        // Percent-encoding. A raw '%' in the authority is refused; an encoded base is decoded exactly once.
        bad("percent-encoded digits in the host", "/http://%31%32%37.0.0.1:{P}/v1/chat/completions"),
        bad("percent-encoded dots in the host", "/http://127%2e0%2e0%2e1:{P}/v1/chat/completions"),
        bad("percent-encoded localhost", "/http://%6c%6f%63%61%6c%68%6f%73%74:{P}/v1/chat/completions"),
        bad("double percent-encoded digits", "/http://%2531%2532%2537.0.0.1:{P}/v1/chat/completions"),
        bad("encoded NUL between loopback and a public name", "/http://127.0.0.1%00.api.openai.com:{P}/v1"),
        bad("encoded slash before userinfo", "/http://127.0.0.1:{P}%2f@api.openai.com/v1/chat/completions"),
        refused("encoded base https%3A%2F%2F127.0.0.1%3APORT", "/https%3A%2F%2F127.0.0.1%3A{P}/v1/chat/completions"),
        refused("encoded base with lower-case escapes", "/http%3a%2f%2f127.0.0.1%3a{P}/v1/chat/completions"),
        refused("encoded slashes only", "/http:%2F%2F127.0.0.1:{P}/v1/chat/completions"),
        refused("encoded colon only", "/http%3A//127.0.0.1:{P}/v1/chat/completions"),
        refused("whole URL encoded, path included",
            "/http%3A%2F%2F127.0.0.1%3A{P}%2Fv1%2Fchat%2Fcompletions"),
        refused("encoded base with an encoded localhost",
            "/http%3A%2F%2F%6C%6F%63%61%6C%68%6F%73%74%3A{P}/v1/chat/completions"),
        refused("encoded base with [::1]", "/http%3A%2F%2F%5B%3A%3A1%5D%3A{P}/v1/chat/completions"),
        bad("encoded base with userinfo", "/http%3A%2F%2Fapi.openai.com%40127.0.0.1%3A{P}/v1/chat/completions"),
        bad("encoded base with a backslash before userinfo",
            "/http%3A%2F%2F127.0.0.1%3A{P}%5C%40api.openai.com/v1/chat/completions"),
        bad("encoded base with a zone id", "/http%3A%2F%2F%5Bfe80%3A%3A1%2525eth0%5D%3A{P}/v1/chat/completions"),
        bad("encoded base with CR LF in the host",
            "/http%3A%2F%2F127.0.0.1%0D%0AHost%3A%20api.openai.com%3A{P}/v1/chat/completions"),
        bad("encoded base with full-width digits",
            "/http%3A%2F%2F%EF%BC%91%EF%BC%92%EF%BC%97.0.0.1%3A{P}/v1/chat/completions"),
        bad("encoded base with a dot-dot segment",
            "/http%3A%2F%2Fapi.openai.com%2F..%2F127.0.0.1%3A{P}/v1/chat/completions"),
        bad("encoded base with an encoded space", "/http%3A%2F%2F127.0.0.1%20api.openai.com%3A{P}/v1"),
        bad("encoded base with an encoded fragment", "/http%3A%2F%2F127.0.0.1%3A{P}%23%40api.openai.com/v1"),
        bad("encoded base with overlong UTF-8 dots", "/http%3A%2F%2F127%C0%AE0%C0%AE0%C0%AE1%3A{P}/v1"),
        bad("truncated percent escape", "/http%3A%2F%2F127.0.0.1%3"),

        // Userinfo and other authority tricks (security.md §3a, §3e): the parsers disagree on where the host is.
        bad("public name as userinfo before loopback", "/https://api.openai.com@127.0.0.1:{P}/v1/chat/completions"),
        bad("loopback, backslash, then a public name", "/https://127.0.0.1:{P}\\@api.openai.com/v1/chat/completions"),
        bad("user and password", "/http://user:pass@127.0.0.1:{P}/v1/chat/completions"),
        bad("empty userinfo", "/http://@127.0.0.1:{P}/v1/chat/completions"),
        bad("loopback as userinfo before a public name", "/http://127.0.0.1:{P}@api.openai.com/v1/chat/completions"),
        bad("public host and port as userinfo", "/http://api.openai.com:443@127.0.0.1:{P}/v1/chat/completions"),
        bad("semicolon before userinfo", "/http://api.openai.com;@127.0.0.1:{P}/v1/chat/completions"),
        bad("semicolon after the port", "/http://127.0.0.1:{P};.api.openai.com/v1/chat/completions"),
        bad("fragment before a public userinfo", "/http://127.0.0.1:{P}#@api.openai.com/v1/chat/completions"),
        bad("fragment hiding the loopback host", "/http://api.openai.com#@127.0.0.1:{P}/v1/chat/completions"),
        bad("query before a public userinfo", "/http://127.0.0.1:{P}?@api.openai.com/v1/chat/completions"),
        bad("Orange Tsai's space-ampersand-at-hash form",
            "/http://api.openai.com &@127.0.0.1:{P}# @api.openai.com/v1/chat/completions"),
        bad("space between loopback and a public name", "/http://127.0.0.1 api.openai.com:{P}/v1/chat/completions"),
        bad("comma-separated hosts", "/http://api.openai.com,127.0.0.1:{P}/v1/chat/completions"),
        bad("fragment in the path", "/http://127.0.0.1:{P}/v1/chat/completions#frag"),

        // Backslashes and slash counts (OkHttp reads '\' as '/', java.net.URI refuses it).
        bad("backslashes instead of slashes", "/http:\\\\127.0.0.1:{P}\\v1\\chat\\completions"),
        bad("slash then backslash", "/http:/\\127.0.0.1:{P}/v1/chat/completions"),
        bad("backslash then slash", "/http:\\/127.0.0.1:{P}/v1/chat/completions"),
        bad("backslashes in the path", "/http://127.0.0.1:{P}\\v1\\chat\\completions"),
        bad("public name, backslash, then loopback", "/http://api.openai.com\\@127.0.0.1:{P}/v1/chat/completions"),
        bad("backslash dot-dot climbing out of a public host", "/http://api.openai.com/v1\\..\\..\\127.0.0.1:{P}"),
        refused("collapsed https:/127.0.0.1:PORT", "/https:/127.0.0.1:{P}/v1/chat/completions"),
        refused("collapsed http:/localhost:PORT", "/http:/localhost:{P}/v1/chat/completions"),
        bad("no slash after the scheme", "/http:127.0.0.1:{P}/v1/chat/completions"),
        bad("three slashes: empty host", "/http:///127.0.0.1:{P}/v1/chat/completions"),
        bad("four slashes: empty host", "/http:////127.0.0.1:{P}/v1/chat/completions"),
        bad("scheme-relative URL", "//127.0.0.1:{P}/v1/chat/completions"),
        bad("scheme without its colon", "/http//127.0.0.1:{P}/v1/chat/completions"),
        bad("leading space", "/ http://127.0.0.1:{P}/v1/chat/completions"),
        bad("leading tab", "/\thttp://127.0.0.1:{P}/v1/chat/completions"),
        bad("space after the port", "/http://127.0.0.1:{P} /v1/chat/completions"),

        // Schemes: only http and https, checked on the raw string (OkHttp turns ws: into http:).
        bad("ws scheme", "/ws://127.0.0.1:{P}/v1/chat/completions"),
        bad("wss scheme", "/wss://127.0.0.1:{P}/v1/chat/completions"),
        bad("WS scheme in upper case", "/WS://localhost:{P}/v1/chat/completions"),
        bad("ftp scheme", "/ftp://127.0.0.1:{P}/"),
        bad("file scheme", "/file:///etc/passwd"),
        bad("file scheme with localhost", "/file://localhost/etc/passwd"),
        bad("gopher scheme", "/gopher://127.0.0.1:{P}/_GET%20/"),
        bad("jar scheme wrapping http", "/jar:http://127.0.0.1:{P}!/"),
        bad("netdoc scheme", "/netdoc:///etc/passwd"),
        bad("dict scheme", "/dict://127.0.0.1:{P}/info"),
        bad("ldap scheme", "/ldap://127.0.0.1:{P}/"),
        bad("javascript scheme", "/javascript:alert(1)"),
        bad("data scheme", "/data:text/plain,hello"),
        bad("http+unix scheme", "/http+unix://%2Fvar%2Frun%2Fdocker.sock/v1"),
        bad("scheme that merely starts with http", "/httpx://127.0.0.1:{P}/v1/chat/completions"),
        bad("view-source wrapping http", "/view-source:http://127.0.0.1:{P}/v1/chat/completions"),
        bad("no scheme at all", "/127.0.0.1:{P}/v1/chat/completions"),
        bad("localhost:PORT read as a scheme", "/localhost:{P}/v1/chat/completions"),
        refused("HTTP in upper case", "/HTTP://127.0.0.1:{P}/v1/chat/completions"),
        refused("HtTpS in mixed case", "/HtTpS://127.0.0.1:{P}/v1/chat/completions"),
        refused("mixed-case scheme and LOCALHOST", "/hTTp://LOCALHOST:{P}/v1/chat/completions"),

        // Dot segments, raw and encoded: they move the path (and, after a container's normalisation, the host).
        bad("dot-dot out of a public host", "/http://api.openai.com/../127.0.0.1:{P}/v1/chat/completions"),
        bad("encoded %2e%2e", "/http://api.openai.com/%2e%2e/127.0.0.1:{P}/v1/chat/completions"),
        bad("half-encoded %2E.", "/http://api.openai.com/%2E./127.0.0.1:{P}/v1/chat/completions"),
        bad("half-encoded .%2e", "/http://api.openai.com/.%2e/127.0.0.1:{P}/v1/chat/completions"),
        bad("single dot segment", "/http://api.openai.com/./v1/chat/completions"),
        bad("encoded single dot segment", "/http://api.openai.com/%2e/v1/chat/completions"),
        bad("trailing dot-dot", "/http://api.openai.com/v1/.."),
        bad("dot-dot behind encoded slashes", "/http://api.openai.com/v1%2F..%2F..%2F127.0.0.1:{P}"),
        bad("dot-dot behind encoded backslashes", "/http://api.openai.com/v1%5C..%5Cadmin"),
        bad("dot-dot after a loopback host", "/http://127.0.0.1:{P}/v1/../../etc/passwd"),

        // Control characters: OkHttp silently drops some of them, so the checked and the fetched URL would differ.
        bad("CR LF in the path", "/http://api.openai.com/v1\r\nHost: 127.0.0.1:{P}\r\n/chat/completions"),
        bad("CR LF in the host", "/http://127.0.0.1\r\n:{P}/v1/chat/completions"),
        bad("bare LF in the host", "/http://127.0.0.1\n.api.openai.com:{P}/v1/chat/completions"),
        bad("NUL in the host", "/http://127.0.0.1\u0000.api.openai.com:{P}/v1/chat/completions"),
        bad("tab inside the host", "/http://127.0.0.\t1:{P}/v1/chat/completions"),
        bad("DEL in the host", "/http://127.0.0.1\u007f:{P}/v1/chat/completions"),
        bad("vertical tab in the host", "/http://127.0.0.1\u000b:{P}/v1/chat/completions"),
        bad("NUL in the path", "/http://api.openai.com/v1\u0000/chat/completions"),
        bad("encoded CR LF in the path", "/http://api.openai.com/v1%0d%0aHost:%20127.0.0.1/chat/completions"),
        bad("encoded NUL in the path", "/http://api.openai.com/v1%00/chat/completions"),
        badQuery("CR LF in the query", "/http://api.openai.com/v1/chat/completions", "x=1\r\nHost: 127.0.0.1"),
        badQuery("encoded LF in the query", "/http://api.openai.com/v1/chat/completions", "x=%0AHost:127.0.0.1"),
        badQuery("NUL in the query", "/http://api.openai.com/v1/chat/completions", "x=\u0000"),

        // IPv6 zone ids (java.net.URI accepts them, OkHttp does not).
        bad("encoded zone id on a link-local address", "/http://[fe80::1%25eth0]:{P}/v1/chat/completions"),
        bad("raw zone id", "/http://[fe80::1%eth0]:{P}/v1/chat/completions"),
        bad("zone id on ::1", "/http://[::1%25lo]:{P}/v1/chat/completions"),
        bad("zone id on a mapped loopback", "/http://[::ffff:127.0.0.1%25x]:{P}/v1/chat/completions"),

        // Ports.
        bad("port 0", "/http://127.0.0.1:0/v1/chat/completions"),
        bad("port 65536", "/http://127.0.0.1:65536/v1/chat/completions"),
        bad("port 99999", "/http://127.0.0.1:99999/v1/chat/completions"),
        bad("port with a plus sign", "/http://127.0.0.1:+{P}/v1/chat/completions"),
        bad("negative port", "/http://127.0.0.1:-1/v1/chat/completions"),
        bad("hexadecimal port", "/http://127.0.0.1:0x50/v1/chat/completions"),
        bad("full-width port digits", "/http://127.0.0.1:８０/v1/chat/completions"),
        bad("two ports", "/http://127.0.0.1:{P}:{P}/v1/chat/completions"),
        bad("empty port", "/http://127.0.0.1:/v1/chat/completions"),
        bad("empty port after [::1]", "/http://[::1]:/v1/chat/completions"),
        bad("port 0 after [::1]", "/http://[::1]:0/v1/chat/completions"),

        // Missing hosts.
        bad("empty host with a port", "/http://:{P}/v1/chat/completions"),
        bad("empty brackets", "/http://[]:{P}/v1/chat/completions"),
        bad("a lone dot as the host", "/http://.:{P}/v1/chat/completions"),
        bad("scheme and slashes only", "/http://"),
        bad("scheme only", "/https:"),
        bad("nothing after the mount", "/"),
        bad("empty target", ""),

        // Malformed IPv6 literals.
        bad("IPv4 literal in brackets", "/http://[127.0.0.1]:{P}/v1/chat/completions"),
        bad("unbracketed ::1", "/http://::1/v1/chat/completions"),
        bad("unterminated bracket", "/http://[::1:{P}/v1/chat/completions"),
        bad("garbage after the bracket", "/http://[::1]x:{P}/v1/chat/completions"),
        bad("two closing brackets", "/http://[::1]]:{P}/v1/chat/completions"),
        bad("three colons", "/http://[:::1]:{P}/v1/chat/completions"),
        bad("two double colons", "/http://[1::2::3]:{P}/v1/chat/completions"),
        bad("nine groups", "/http://[0:0:0:0:0:0:0:0:1]:{P}/v1/chat/completions"),
        bad("full-width digit inside brackets", "/http://[::\uff11]:{P}/v1/chat/completions"),
        bad("short IPv4 tail in a mapped address", "/http://[::ffff:127.1]:{P}/v1/chat/completions"),
        bad("octal IPv4 tail in a mapped address", "/http://[::ffff:0177.0.0.1]:{P}/v1/chat/completions"),
        bad("zero-padded IPv4 tail in a mapped address", "/http://[::ffff:127.000.000.001]:{P}/v1/chat/completions"),

        // Names that always mean this machine (RFC 6761), refused before any lookup.
        refused("localhost", "/http://localhost:{P}/v1/chat/completions"),
        refused("LOCALHOST with a trailing dot", "/http://LOCALHOST.:{P}/v1/chat/completions"),
        refused("localhost with a trailing dot", "/http://localhost.:{P}/v1/chat/completions"),
        refused("mixed-case localhost", "/https://LoCaLhOsT:{P}/v1/chat/completions"),
        refused("a subdomain of localhost", "/http://foo.localhost:{P}/v1/chat/completions"),
        refused("a subdomain of localhost with a trailing dot", "/http://foo.localhost.:{P}/v1/chat/completions"),
        bad("localhost with two trailing dots", "/http://localhost..:{P}/v1/chat/completions"),
        bad("empty label before localhost", "/http://foo..localhost:{P}/v1/chat/completions"),
        refused("a deep subdomain of localhost", "/http://a.b.c.localhost:{P}/v1/chat/completions"),
        refused("localhost on the default https port", "/https://localhost/v1/chat/completions"),
        bad("loopback literal with a trailing dot", "/http://127.0.0.1.:{P}/v1/chat/completions"),
        bad("full-width loopback literal with a full-width trailing dot", "/http://１２７．０．０．１．:{P}/v1/chat/completions"),

        // Names a hostile or local resolver answers with this machine or the metadata service: refused when
        // resolved (the stub answers 127.0.0.1 for every name it has no other answer for).
        refused("wildcard DNS that embeds the loopback address", "/http://127.0.0.1.nip.io:{P}/v1/chat/completions"),
        refused("a public-looking name that resolves to loopback", "/http://localtest.me:{P}/v1/chat/completions"),
        refused("GCP metadata name", "/http://metadata.google.internal:{P}/computeMetadata/v1/"),
        refused("EC2 metadata name", "/http://instance-data:{P}/latest/meta-data/"),
        refused("a name that resolves to ::1", "/http://ip6-localhost:{P}/v1/chat/completions"),

        // IPv4 ranges of security.md §2, as canonical literals: well-formed, so 403.
        refused("0.0.0.0 (reaches this machine)", "/http://0.0.0.0:{P}/v1/chat/completions"),
        refused("0.0.0.0/8", "/http://0.1.2.3:{P}/v1/chat/completions"),
        refused("0.0.0.0/8, last address", "/http://0.255.255.255:{P}/v1/chat/completions"),
        refused("10.0.0.0/8", "/http://10.0.0.1:{P}/v1/chat/completions"),
        refused("10.0.0.0/8, last host", "/http://10.255.255.254:{P}/v1/chat/completions"),
        refused("100.64.0.0/10 CGNAT", "/http://100.64.0.1:{P}/v1/chat/completions"),
        refused("Alibaba Cloud metadata in CGNAT", "/http://100.100.100.200:{P}/latest/meta-data/"),
        refused("100.64.0.0/10, last host", "/http://100.127.255.254:{P}/v1/chat/completions"),
        refused("127.0.0.1", "/http://127.0.0.1:{P}/v1/chat/completions"),
        refused("127.0.0.2", "/http://127.0.0.2:{P}/v1/chat/completions"),
        refused("127.0.1.1 (Debian's hostname address)", "/http://127.0.1.1:{P}/v1/chat/completions"),
        refused("127.255.255.254", "/http://127.255.255.254:{P}/v1/chat/completions"),
        refused("127.255.255.255", "/http://127.255.255.255:{P}/v1/chat/completions"),
        refused("169.254.0.0/16 link-local", "/http://169.254.0.1:{P}/v1/chat/completions"),
        refused("cloud metadata 169.254.169.254", "/http://169.254.169.254/latest/meta-data/"),
        refused("cloud metadata on the canary port", "/http://169.254.169.254:{P}/latest/meta-data/"),
        refused("AWS ECS task metadata", "/http://169.254.170.2/v2/credentials"),
        refused("EKS pod identity agent", "/http://169.254.170.23/v1/credentials"),
        refused("172.16.0.0/12, first host", "/http://172.16.0.1:{P}/v1/chat/completions"),
        refused("172.16.0.0/12, Docker bridge", "/http://172.17.0.1:{P}/v1/chat/completions"),
        refused("172.16.0.0/12, last host", "/http://172.31.255.254:{P}/v1/chat/completions"),
        refused("192.0.0.0/24 IETF protocol assignments", "/http://192.0.0.1:{P}/v1/chat/completions"),
        refused("192.0.0.170 NAT64 discovery", "/http://192.0.0.170:{P}/v1/chat/completions"),
        refused("192.0.2.0/24 TEST-NET-1", "/http://192.0.2.1:{P}/v1/chat/completions"),
        refused("192.88.99.0/24 6to4 relay anycast", "/http://192.88.99.1:{P}/v1/chat/completions"),
        refused("192.168.0.0/16, first host", "/http://192.168.0.1:{P}/v1/chat/completions"),
        refused("192.168.0.0/16, last host", "/http://192.168.255.254:{P}/v1/chat/completions"),
        refused("198.18.0.0/15 benchmarking", "/http://198.18.0.1:{P}/v1/chat/completions"),
        refused("198.18.0.0/15, last host", "/http://198.19.255.254:{P}/v1/chat/completions"),
        refused("198.51.100.0/24 TEST-NET-2", "/http://198.51.100.1:{P}/v1/chat/completions"),
        refused("203.0.113.0/24 TEST-NET-3", "/http://203.0.113.1:{P}/v1/chat/completions"),
        refused("224.0.0.0/4 multicast", "/http://224.0.0.1:{P}/v1/chat/completions"),
        refused("MCAST-TEST-NET", "/http://233.252.0.1:{P}/v1/chat/completions"),
        refused("SSDP multicast", "/http://239.255.255.250:{P}/v1/chat/completions"),
        refused("240.0.0.0/4 reserved", "/http://240.0.0.1:{P}/v1/chat/completions"),
        refused("240.0.0.0/4, high address", "/http://250.1.2.3:{P}/v1/chat/completions"),
        refused("255.255.255.255 broadcast", "/http://255.255.255.255:{P}/v1/chat/completions"),
        refused("Azure WireServer 168.63.129.16", "/http://168.63.129.16/machine/"),
        refused("AS112-v4", "/http://192.31.196.1:{P}/v1/chat/completions"),
        refused("AMT relay anycast", "/http://192.52.193.1:{P}/v1/chat/completions"),
        refused("direct-delegation AS112", "/http://192.175.48.1:{P}/v1/chat/completions"),

        // IPv6 ranges and the forms that embed IPv4 (unwrapped or denied outright).
        refused("[::] unspecified", "/http://[::]:{P}/v1/chat/completions"),
        refused("[::1] loopback", "/http://[::1]:{P}/v1/chat/completions"),
        refused("[::1] written out in full", "/http://[0:0:0:0:0:0:0:1]:{P}/v1/chat/completions"),
        refused("[::1] with leading zeros", "/http://[0000:0000::0001]:{P}/v1/chat/completions"),
        refused("[::1] in dotted-quad tail form", "/http://[::0.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-mapped loopback", "/http://[::ffff:127.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-mapped loopback in upper case", "/http://[::FFFF:127.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-mapped loopback in hex", "/http://[::ffff:7f00:1]:{P}/v1/chat/completions"),
        refused("IPv4-mapped loopback written out", "/http://[0:0:0:0:0:ffff:127.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-translated loopback (::ffff:0:0/96)", "/http://[::ffff:0:127.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-mapped 0.0.0.0", "/http://[::ffff:0.0.0.0]:{P}/v1/chat/completions"),
        refused("IPv4-mapped metadata", "/http://[::ffff:169.254.169.254]:{P}/latest/meta-data/"),
        refused("IPv4-mapped metadata in hex", "/http://[::ffff:a9fe:a9fe]:{P}/latest/meta-data/"),
        refused("IPv4-mapped 10.0.0.1", "/http://[::ffff:10.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-compatible loopback", "/http://[::127.0.0.1]:{P}/v1/chat/completions"),
        refused("IPv4-compatible loopback in hex", "/http://[::7f00:1]:{P}/v1/chat/completions"),
        refused("IPv4-compatible metadata", "/http://[::169.254.169.254]:{P}/latest/meta-data/"),
        refused("NAT64 loopback", "/http://[64:ff9b::7f00:1]:{P}/v1/chat/completions"),
        refused("NAT64 loopback in dotted form", "/http://[64:ff9b::127.0.0.1]:{P}/v1/chat/completions"),
        refused("NAT64 metadata", "/http://[64:ff9b::a9fe:a9fe]:{P}/latest/meta-data/"),
        refused("local-use NAT64", "/http://[64:ff9b:1::a9fe:a9fe]:{P}/latest/meta-data/"),
        refused("6to4 loopback", "/http://[2002:7f00:1::]:{P}/v1/chat/completions"),
        refused("6to4 metadata", "/http://[2002:a9fe:a9fe::]:{P}/latest/meta-data/"),
        refused("Teredo", "/http://[2001:0:4136:e378:8000:63bf:3fff:fdd2]:{P}/v1/chat/completions"),
        refused("Teredo with a loopback server", "/http://[2001:0:7f00:1::]:{P}/v1/chat/completions"),
        refused("2001:2::/48 benchmarking", "/http://[2001:2::1]:{P}/v1/chat/completions"),
        refused("ORCHIDv2", "/http://[2001:20::1]:{P}/v1/chat/completions"),
        refused("2001:db8::/32 documentation", "/http://[2001:db8::1]:{P}/v1/chat/completions"),
        refused("3fff::/20 documentation", "/http://[3fff::1]:{P}/v1/chat/completions"),
        refused("100::/64 discard-only", "/http://[100::1]:{P}/v1/chat/completions"),
        refused("fc00::/7 unique local", "/http://[fc00::1]:{P}/v1/chat/completions"),
        refused("AWS IMDS over IPv6", "/http://[fd00:ec2::254]/latest/meta-data/"),
        refused("EKS pod identity over IPv6", "/http://[fd00:ec2::23]/v1/credentials"),
        refused("fe80::/10 link-local", "/http://[fe80::1]:{P}/v1/chat/completions"),
        refused("fe80::/10, last block", "/http://[febf:ffff::1]:{P}/v1/chat/completions"),
        refused("fec0::/10 deprecated site-local", "/http://[fec0::1]:{P}/v1/chat/completions"),
        refused("ff02::1 link-local multicast", "/http://[ff02::1]:{P}/v1/chat/completions"),
        refused("ff05::1:3 site multicast", "/http://[ff05::1:3]:{P}/v1/chat/completions"),
        refused("ff0e::1 global multicast", "/http://[ff0e::1]:{P}/v1/chat/completions"),
        refused("5f00::/16 SRv6", "/http://[5f00::1]:{P}/v1/chat/completions"),
        refused("::2, outside 2000::/3", "/http://[::2]:{P}/v1/chat/completions"),
        refused("1::1, outside 2000::/3", "/http://[1::1]:{P}/v1/chat/completions"),
        refused("4000::1, outside 2000::/3", "/http://[4000::1]:{P}/v1/chat/completions"));
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @MethodSource("attackForms")
  void attackFormIsAnsweredWithAJsonErrorAndNeverConnects(Form form, int expectedStatus) throws Exception {
    String path = form.path().replace("{P}", Integer.toString(canary.port()));
    assertThat(namesAPublicAddress(path)).as("precondition: a form must never name a public address").isFalse();
    int lookupsBefore = dns.lookups();

    RecordingSink got = RecordingSink.forward(proxy,
        ProxyRequest.builder().targetPath(path).query(form.query())
            .addHeader("Content-Type", "application/json")
            .addHeader("Authorization", "Bearer sk-attack-forms")
            .body("{\"model\":\"m\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8))
            .build());

    assertThat(got.status()).as("status for %s; body %s", form, got.text()).isEqualTo(expectedStatus);
    assertOpenAiError(got, expectedStatus == 400 ? "invalid_target_url" : "target_refused");
    if (expectedStatus == 400) {
      assertThat(dns.lookups() - lookupsBefore).as("name lookups for a malformed URL").isZero();
    }
    assertThat(canary.connections()).as("connections accepted by the canary: %s", canary.peers()).isZero();
  }

  // ---- DNS rebinding ----------------------------------------------------------------------------------------

  @Nested
  class DnsRebinding {
    private ChatCompletionProxy rebindingProxy;

    @AfterEach
    void close() {
      if (rebindingProxy != null) {
        rebindingProxy.close();
      }
    }

    @BeforeEach
    void resolverLayerHandsOnTheAnswerItChecked() throws Exception {
      // Precondition for the tests below: the policy's resolver layer returns the resolver's own answer, so an
      // address it read once (and checked) is not copied into what OkHttp dials. If this ever changes, the
      // tests below must change too, or they could hand the public address to a dialler.
      FirstReadOnly probe = new FirstReadOnly(List.of(PUBLIC));
      List<InetAddress> passed = new PolicyDns(TargetPolicy.defaults(), host -> probe).lookup("probe.test");
      assertThat(passed).isSameAs(probe);
      assertThat(passed).containsOnly(LOOPBACK);
    }

    @Test
    void nameThatRebindsToLoopbackAfterAnEarlyCheckIsRefusedWhenTheProxyResolvesIt() throws Exception {
      // First lookup: a public address, seen only by an early policy check (the resolver layer the proxy itself
      // uses, run ahead of time as an embedder's pre-flight would). Every later lookup: the canary address.
      AtomicInteger lookups = new AtomicInteger();
      Dns rebinding = host -> lookups.getAndIncrement() == 0
          ? new FirstReadOnly(List.of(PUBLIC))
          : List.of(LOOPBACK);
      List<InetAddress> early = new PolicyDns(TargetPolicy.defaults(), rebinding).lookup("rebind.test");
      assertThat(early).as("the early check passed the public answer").hasSize(1);
      rebindingProxy = ChatCompletionProxy.builder().dns(rebinding).build();

      RecordingSink got =
          RecordingSink.forward(rebindingProxy, chatRequest("/http://rebind.test:{P}/v1/chat/completions"));

      assertThat(got.status()).as("body %s", got.text()).isEqualTo(403);
      assertOpenAiError(got, "target_refused");
      // Caught by PolicyDns: the proxy resolved the name again and checked that answer, not the early one.
      assertThat(got.text()).contains("rebind.test").contains("127.0.0.1");
      assertThat(lookups.get()).as("the proxy's own lookup came after the early one").isEqualTo(2);
      assertThat(canary.connections()).as("canary connections: %s", canary.peers()).isZero();
    }

    @Test
    void addressThatChangesBetweenTheResolverCheckAndTheConnectIsRefusedAtConnect() throws Exception {
      // Each answer shows the public address to whoever reads it first (PolicyDns, which checks it) and the
      // canary address to every later reader (OkHttp's route selection, which dials it): the rebinding window
      // that only the socket check can close.
      AtomicInteger lookups = new AtomicInteger();
      List<FirstReadOnly> answers = new CopyOnWriteArrayList<>();
      Dns rebinding = host -> {
        lookups.incrementAndGet();
        FirstReadOnly answer = new FirstReadOnly(List.of(PUBLIC));
        answers.add(answer);
        return answer;
      };
      rebindingProxy = ChatCompletionProxy.builder().dns(rebinding).build();

      RecordingSink got =
          RecordingSink.forward(rebindingProxy, chatRequest("/http://rebind.test:{P}/v1/chat/completions"));

      assertThat(got.status()).as("body %s", got.text()).isEqualTo(403);
      assertOpenAiError(got, "target_refused");
      // Caught by GuardedSocketFactory: the address dialled, not the one resolved, is what counts.
      assertThat(got.text()).contains("127.0.0.1").contains("refuses to connect");
      assertThat(lookups.get()).isEqualTo(1);
      assertThat(answers.get(0).laterReads()).as("OkHttp read the answer after the check").isPositive();
      assertThat(canary.connections()).as("canary connections: %s", canary.peers()).isZero();
    }

    @Test
    void nameWithPublicAndLoopbackAnswersIsRefusedAsAWhole() throws Exception {
      // Every lookup answers a public address and the canary address. Refusing the whole name (not filtering
      // it down to the public address) is the documented choice: nothing is dialled at all, and the public
      // address is never handed to OkHttp (a later read of either element yields the canary address).
      AtomicInteger lookups = new AtomicInteger();
      Dns mixed = host -> {
        lookups.incrementAndGet();
        return new FirstReadOnly(List.of(PUBLIC, LOOPBACK));
      };
      rebindingProxy = ChatCompletionProxy.builder()
          .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(false).build())
          .dns(mixed)
          .build();

      RecordingSink got =
          RecordingSink.forward(rebindingProxy, chatRequest("/http://mixed.test:{P}/v1/chat/completions"));

      assertThat(got.status()).as("body %s", got.text()).isEqualTo(403);
      assertOpenAiError(got, "target_refused");
      assertThat(got.text()).contains("mixed.test").contains("127.0.0.1");
      assertThat(lookups.get()).isEqualTo(1);
      assertThat(canary.connections()).as("canary connections: %s", canary.peers()).isZero();
    }
  }

  // ---- redirects ----------------------------------------------------------------------------------------

  @Nested
  @TestInstance(TestInstance.Lifecycle.PER_CLASS)
  class Redirects {
    private MockWebServer upstream;
    private ChatCompletionProxy redirectProxy;

    @BeforeEach
    void start() throws IOException {
      upstream = new MockWebServer();
      upstream.start(LOOPBACK, 0);
      redirectProxy = ChatCompletionProxy.builder()
          .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
          .build();
    }

    @AfterEach
    void stop() {
      redirectProxy.close();
      upstream.close();
    }

    Stream<Arguments> redirects() {
      String metadata = "http://169.254.169.254/latest/meta-data/";
      String toCanary = "http://127.0.0.1:" + canary.port() + "/v1/chat/completions";
      return Stream.of(
          Arguments.of(302, metadata),
          Arguments.of(302, toCanary),
          Arguments.of(301, metadata),
          Arguments.of(303, toCanary),
          Arguments.of(307, toCanary),
          Arguments.of(308, metadata));
    }

    @ParameterizedTest(name = "{0} Location: {1}")
    @MethodSource("redirects")
    void redirectToAPrivateAddressIsPassedBackAndNotFollowed(int status, String location) throws Exception {
      upstream.enqueue(new MockResponse.Builder()
          .code(status)
          .setHeader("Location", location)
          .setHeader("Content-Type", "text/plain")
          .body("moved")
          .build());

      RecordingSink got = RecordingSink.forward(redirectProxy,
          chatRequest("/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions"));

      assertThat(got.status()).isEqualTo(status);
      assertThat(got.header("Location")).isEqualTo(location);
      assertThat(got.text()).isEqualTo("moved");
      assertThat(upstream.getRequestCount()).as("requests at the upstream").isEqualTo(1);
      assertThat(canary.connections()).as("canary connections: %s", canary.peers()).isZero();
    }
  }

  // ---- the canary is not blind ----------------------------------------------------------------------------

  @Test
  void canaryCountsAConnectionWhenAPolicyDoesAllowLoopback() throws Exception {
    // Control: with private networks allowed, a loopback form does reach a canary (a separate one, so the
    // shared canary's count stays a clean zero). The canary hangs up at once, which the proxy reports as 502.
    try (Canary control = Canary.start();
        ChatCompletionProxy open = ChatCompletionProxy.builder()
            .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
            .dns(dns)
            .build()) {
      RecordingSink got = RecordingSink.forward(open,
          chatRequest("/http://127.0.0.1:" + control.port() + "/v1/chat/completions"));

      assertThat(control.awaitConnection(10, TimeUnit.SECONDS)).as("the control canary saw a connection").isTrue();
      assertThat(got.status()).isEqualTo(502);
    }
  }

  // ---- helpers ------------------------------------------------------------------------------------------

  /** One attack form: what it is, the target path (with {@code {P}} for the canary port) and a raw query. */
  record Form(String what, String path, String query) {
    @Override
    public String toString() {
      return what + "  " + visible(path) + (query == null ? "" : "?" + visible(query));
    }
  }

  private static Arguments bad(String what, String path) {
    return form(what, path, null, 400);
  }

  private static Arguments badQuery(String what, String path, String query) {
    return form(what, path, query, 400);
  }

  private static Arguments refused(String what, String path) {
    return form(what, path, null, 403);
  }

  private static Arguments form(String what, String path, String query, int status) {
    Form form = new Form(what, path, query);
    return Arguments.of(Named.of(form.toString(), form), status);
  }

  /** The form with control characters made visible, for test names and messages. */
  private static String visible(String s) {
    StringBuilder out = new StringBuilder();
    for (char c : s.toCharArray()) {
      if (c < 0x20 || c == 0x7f || c == 0x200b || c == 0xad) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static ProxyRequest chatRequest(String path) {
    return ProxyRequest.builder()
        .targetPath(path.replace("{P}", Integer.toString(canary.port())))
        .addHeader("Content-Type", "application/json")
        .addHeader("Authorization", "Bearer sk-attack-forms")
        .body("{\"model\":\"m\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8))
        .build();
  }

  private static void assertOpenAiError(RecordingSink got, String expectedCode) throws IOException {
    assertThat(got.header("Content-Type")).as("Content-Type").startsWith("application/json");
    JsonNode root = JSON.readTree(got.body());
    assertThat(root.isObject()).as("JSON object: %s", got.text()).isTrue();
    assertThat(root.size()).as("only the error member: %s", got.text()).isEqualTo(1);
    JsonNode error = root.path("error");
    assertThat(error.isObject()).as("error object: %s", got.text()).isTrue();
    assertThat(error.path("message").isTextual()).as("error.message: %s", got.text()).isTrue();
    assertThat(error.path("message").asText()).isNotBlank();
    assertThat(error.path("type").asText()).as("error.type: %s", got.text()).isEqualTo("invalid_request_error");
    assertThat(error.path("code").asText()).as("error.code: %s", got.text()).isEqualTo(expectedCode);
  }

  /**
   * Whether OkHttp would read this form as a public address literal. No form may: a policy bug must never turn
   * into a packet to another machine. Only literals are looked at, so this never asks a resolver.
   */
  private static boolean namesAPublicAddress(String path) throws UnknownHostException {
    HttpUrl url = HttpUrl.parse(path.startsWith("/") ? path.substring(1) : path);
    if (url == null) {
      return false;
    }
    String host = url.host();
    if (host.indexOf(':') < 0 && !TargetResolver.DOTTED_QUAD.matcher(host).matches()) {
      return false;
    }
    return AddressRules.isPublic(InetAddress.getByAddress(AddressRules.literalBytes(host)));
  }

  private static InetAddress address(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(e);
    }
  }

  /**
   * A resolver that never leaves this machine: a few fixed answers, and 127.0.0.1 (the canary's address) for
   * every other name, which is what a hostile DNS server would answer.
   */
  static final class StubDns implements Dns {
    private final Map<String, List<InetAddress>> answers;
    private final AtomicInteger lookups = new AtomicInteger();
    final List<String> names = new CopyOnWriteArrayList<>();

    StubDns(Map<String, List<InetAddress>> answers) {
      this.answers = answers;
    }

    @Override
    public List<InetAddress> lookup(String hostname) {
      lookups.incrementAndGet();
      names.add(hostname);
      return answers.getOrDefault(hostname, List.of(LOOPBACK));
    }

    int lookups() {
      return lookups.get();
    }
  }

  /**
   * A resolver answer in which each element shows its configured address on its first read only; every later
   * read shows 127.0.0.1. The first reader is the policy's resolver check; whoever dials reads later, so a
   * public address given here can be checked but never dialled.
   */
  static final class FirstReadOnly extends AbstractList<InetAddress> {
    private final List<InetAddress> firstRead;
    private final boolean[] read;
    private final AtomicInteger laterReads = new AtomicInteger();

    FirstReadOnly(List<InetAddress> firstRead) {
      this.firstRead = List.copyOf(firstRead);
      this.read = new boolean[firstRead.size()];
    }

    @Override
    public synchronized InetAddress get(int index) {
      if (!read[index]) {
        read[index] = true;
        return firstRead.get(index);
      }
      laterReads.incrementAndGet();
      return LOOPBACK;
    }

    @Override
    public int size() {
      return firstRead.size();
    }

    int laterReads() {
      return laterReads.get();
    }
  }

  /**
   * Listens on 127.0.0.1 (and ::1 on the same port, where this machine has it) and counts the connections it
   * accepts, hanging up on each at once.
   */
  static final class Canary implements AutoCloseable {
    private final List<ServerSocket> sockets;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicInteger connections = new AtomicInteger();
    private final List<String> peers = new CopyOnWriteArrayList<>();
    private final CountDownLatch first = new CountDownLatch(1);

    private Canary(List<ServerSocket> sockets) {
      this.sockets = sockets;
      for (ServerSocket s : sockets) {
        Thread t = new Thread(() -> acceptAll(s), "canary-" + s.getLocalSocketAddress());
        t.setDaemon(true);
        t.start();
        threads.add(t);
      }
    }

    static Canary start() throws IOException {
      InetAddress v6 = ipv6Loopback();
      for (int attempt = 0; attempt < 20; attempt++) {
        ServerSocket v4 = new ServerSocket(0, 50, LOOPBACK);
        if (v6 == null) {
          return new Canary(List.of(v4));
        }
        ServerSocket six = new ServerSocket();
        try {
          six.bind(new InetSocketAddress(v6, v4.getLocalPort()), 50);
          return new Canary(List.of(v4, six));
        } catch (IOException taken) {
          six.close();
          v4.close();
        }
      }
      throw new IOException("no port free on both 127.0.0.1 and ::1");
    }

    /** ::1 when this machine has IPv6 loopback, else null (then only 127.0.0.1 is watched). */
    private static InetAddress ipv6Loopback() {
      try {
        InetAddress v6 = InetAddress.getByAddress(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1});
        return NetworkInterface.getByInetAddress(v6) != null ? v6 : null;
      } catch (IOException e) {
        return null;
      }
    }

    private void acceptAll(ServerSocket server) {
      while (!server.isClosed()) {
        try (Socket s = server.accept()) {
          peers.add(s.getLocalSocketAddress() + " <- " + s.getRemoteSocketAddress());
          connections.incrementAndGet();
          first.countDown();
        } catch (IOException e) {
          // closed
        }
      }
    }

    int port() {
      return sockets.get(0).getLocalPort();
    }

    int connections() {
      return connections.get();
    }

    List<String> peers() {
      return peers;
    }

    boolean awaitConnection(long timeout, TimeUnit unit) throws InterruptedException {
      return first.await(timeout, unit);
    }

    @Override
    public void close() throws IOException {
      for (ServerSocket s : sockets) {
        s.close();
      }
      for (Thread t : threads) {
        try {
          t.join(5_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }
  }
}
