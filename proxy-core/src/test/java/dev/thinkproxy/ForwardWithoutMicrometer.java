package dev.thinkproxy;

import java.nio.charset.StandardCharsets;
import java.util.function.Function;

/**
 * Forwards one chat request through a proxy with an access log and returns {@code status body}. Public with a
 * public constructor because {@link MicrometerOptionalTest} loads it in a class loader without Micrometer and calls
 * it through {@link Function}, the one type both loaders share.
 */
public final class ForwardWithoutMicrometer implements Function<String, String> {
  /** For reflection. */
  public ForwardWithoutMicrometer() {}

  @Override
  public String apply(String targetPath) {
    try (ChatCompletionProxy proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
        .addListener(new AccessLogListener())
        .build()) {
      RecordingSink sink = RecordingSink.forward(proxy, ProxyRequest.builder()
          .targetPath(targetPath)
          .addHeader("Content-Type", "application/json")
          .body("{\"model\":\"m\",\"messages\":[]}".getBytes(StandardCharsets.UTF_8))
          .build());
      return sink.status() + " " + sink.text();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
