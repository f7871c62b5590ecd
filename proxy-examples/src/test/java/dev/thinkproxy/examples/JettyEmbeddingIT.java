package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.examples.jetty.JettyEmbedding;
import java.net.InetAddress;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * {@link JettyEmbedding} started for real: a think-tagged stream goes through Jetty 12 in each base-URL form, the
 * {@code //} and {@code %2F} ones (and raw IPv6 brackets) only because of the relaxed URI compliance.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class JettyEmbeddingIT {
  private static final String REQUEST_BODY =
      "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private MockWebServer upstream;
  private ChatCompletionProxy proxy;
  private JettyEmbedding jetty;

  @BeforeAll
  void start() throws Exception {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowHost("127.0.0.1:" + upstream.getPort()).build())
        .build();
    jetty = JettyEmbedding.start("127.0.0.1", 0, proxy);
  }

  @AfterAll
  void stop() throws Exception {
    jetty.close();
    proxy.close();
    upstream.close();
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"http://", "http:/", "http%3A%2F%2F", "http:%2F%2F"})
  void thinkTaggedStreamArrivesSplitInEveryBaseUrlForm(String scheme) throws Exception {
    upstream.enqueue(Sse.thinkStream());
    String target = "/proxy/" + scheme + "127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";

    RawHttp.Response r = RawHttp.postJson(jetty.port(), target, REQUEST_BODY);

    Sse.assertSplitThinkStream(r);
    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("request at the upstream").isNotNull();
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getBody().utf8()).isEqualTo(REQUEST_BODY);
  }

  @Test
  void rawIpv6LiteralReachesTheProxy() throws Exception {
    // Jetty's default compliance answers 400 itself to raw brackets; here the proxy's own policy answers.
    RawHttp.Response r = RawHttp.postJson(jetty.port(), "/proxy/http://[::1]:8000/v1/chat/completions", REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(403);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("target_refused");
  }
}
