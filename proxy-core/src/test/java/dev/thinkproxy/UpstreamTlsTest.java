package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Upstream TLS: certificates and host names are always verified; an operator's private CA can be trusted in
 * addition to the platform's CAs, and that never turns verification off.
 */
class UpstreamTlsTest {
  private static final String ANSWER = "{\"object\":\"chat.completion\",\"choices\":[]}";

  private final HeldCertificate privateCa = new HeldCertificate.Builder()
      .certificateAuthority(0).commonName("thinkproxy test CA").build();
  private final HeldCertificate otherCa = new HeldCertificate.Builder()
      .certificateAuthority(0).commonName("someone else's CA").build();
  private MockWebServer upstream;
  private ChatCompletionProxy proxy;

  @BeforeEach
  void start() {
    upstream = new MockWebServer();
  }

  @AfterEach
  void stop() {
    if (proxy != null) {
      proxy.close();
    }
    upstream.close();
  }

  /** Serves HTTPS with a certificate for {@code 127.0.0.1} (or another name) issued by {@code issuer}. */
  private void serveTls(HeldCertificate issuer, String ipOrHost) throws Exception {
    HeldCertificate.Builder server = new HeldCertificate.Builder().signedBy(issuer).addSubjectAlternativeName(ipOrHost);
    HandshakeCertificates certificates = new HandshakeCertificates.Builder()
        .heldCertificate(server.build(), issuer.certificate())
        .build();
    upstream.useHttps(certificates.sslSocketFactory());
    upstream.start();
    upstream.enqueue(new MockResponse.Builder().setHeader("Content-Type", "application/json").body(ANSWER).build());
  }

  private RecordingSink call() throws Exception {
    return RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath("/https://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions")
        .addHeader("Content-Type", "application/json")
        .body("{}".getBytes(StandardCharsets.UTF_8))
        .build());
  }

  private ChatCompletionProxy.Builder builder() {
    return ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build());
  }

  @Test
  void upstreamWithAPrivateCaIsRefusedWith502ByDefault() throws Exception {
    serveTls(privateCa, "127.0.0.1");
    proxy = builder().build();

    RecordingSink got = call();

    assertThat(got.status()).isEqualTo(502);
    assertThat(Sse.MAPPER.readTree(got.body()).path("error").path("type").asText()).isEqualTo("upstream_error");
    assertThat(upstream.getRequestCount()).as("the handshake failed before any request").isZero();
  }

  @Test
  void trustingThePrivateCaLetsTheRequestThrough() throws Exception {
    serveTls(privateCa, "127.0.0.1");
    proxy = builder().trustedCertificates(List.of(privateCa.certificate())).build();

    RecordingSink got = call();

    assertThat(got.status()).isEqualTo(200);
    assertThat(got.text()).isEqualTo(ANSWER);
  }

  @Test
  void aTrustedCaDoesNotVouchForCertificatesFromAnotherCa() throws Exception {
    serveTls(otherCa, "127.0.0.1");
    proxy = builder().trustedCertificates(List.of(privateCa.certificate())).build();

    assertThat(call().status()).isEqualTo(502);
  }

  @Test
  void hostNamesAreStillVerifiedWithATrustedCa() throws Exception {
    serveTls(privateCa, "llm.internal.example");
    proxy = builder().trustedCertificates(List.of(privateCa.certificate())).build();

    assertThat(call().status()).as("certificate for another host").isEqualTo(502);
  }
}
