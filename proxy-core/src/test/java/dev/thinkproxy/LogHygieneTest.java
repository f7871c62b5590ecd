package dev.thinkproxy;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.Test;

/**
 * What the library logs (at every level, debug included; see {@code simplelogger.properties}) names the upstream
 * host and what happened, and never a credential, a proxy key, a query string or a body; the access log included.
 */
class LogHygieneTest {
  private static final Path LOG = Path.of("target/thinkproxy-test.log");

  @Test
  void refusedFailedAndBrokenExchangesLogNoSecrets() throws Exception {
    Finished finished = new Finished();
    try (MockWebServer upstream = new MockWebServer()) {
      upstream.start();
      String host = "127.0.0.1:" + upstream.getPort();
      ChatCompletionProxy proxy = ChatCompletionProxy.builder()
          .targetPolicy(TargetPolicy.builder().allowHost(host).build())
          .accessKeys(List.of("SECRET-PROXY-KEY"))
          .addListener(new AccessLogListener("dev.thinkproxy.access.hygiene"))
          .addListener(finished)
          .build();
      try (proxy) {
        // Refused: bad key, userinfo, private target, bad mode header.
        send(proxy, "/http://" + host + "/v1/chat/completions", "wrong-key");
        send(proxy, "/http://user:SECRET-USERINFO@" + host + "/v1/chat/completions", "SECRET-PROXY-KEY");
        send(proxy, "/http://10.1.2.3/v1/chat/completions", "SECRET-PROXY-KEY");
        // A stream that breaks off, and an upstream that hangs up before answering.
        upstream.enqueue(new MockResponse.Builder()
            .setHeader("Content-Type", "text/event-stream")
            .body("data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"<think>SECRET-ANSWER\"}}]}\n\n")
            .onResponseEnd(SocketEffect.ShutdownConnection.INSTANCE)
            .build());
        send(proxy, "/http://" + host + "/v1/chat/completions", "SECRET-PROXY-KEY");
        upstream.enqueue(new MockResponse.Builder().onRequestStart(SocketEffect.ShutdownConnection.INSTANCE).build());
        send(proxy, "/http://" + host + "/v1/chat/completions", "SECRET-PROXY-KEY");
        // An exchange's listeners hear that it finished after its client got the end of the response.
        assertThat(finished.all.await(20, TimeUnit.SECONDS)).as("five exchanges finished").isTrue();
      }
    }

    String log = Files.readString(LOG, StandardCharsets.UTF_8);
    assertThat(log).as("the exchanges above were logged").contains("127.0.0.1");
    assertThat(log).as("one access-log line per exchange")
        .containsPattern("(?s)(dev\\.thinkproxy\\.access\\.hygiene - time=.*){5}");
    assertThat(log).doesNotContain("SECRET");
  }

  /** Counts finished exchanges; added after the access log, so its line is written when this one hears of it. */
  private static final class Finished implements ProxyListener {
    final CountDownLatch all = new CountDownLatch(5);

    @Override
    public void finished(ExchangeInfo exchange) {
      all.countDown();
    }
  }

  private static void send(ChatCompletionProxy proxy, String path, String proxyKey) throws Exception {
    RecordingSink.forward(proxy, ProxyRequest.builder()
        .targetPath(path)
        .query("key=SECRET-QUERY-KEY")
        .addHeader("Authorization", "Bearer SECRET-API-KEY")
        .addHeader("X-Thinkproxy-Key", proxyKey)
        .addHeader("X-Api-Key", "SECRET-X-API-KEY")
        .addHeader("Content-Type", "application/json")
        .body("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"SECRET-PROMPT\"}]}"
            .getBytes(StandardCharsets.UTF_8))
        .build());
  }
}
