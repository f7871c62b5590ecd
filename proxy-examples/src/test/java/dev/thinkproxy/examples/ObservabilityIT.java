package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code --metrics} and {@code --access-log} on the standalone server: what a Prometheus scrape of {@code /metrics}
 * and the access log show after real exchanges.
 *
 * <p>The proxy records an exchange just after the client has the whole answer, so a scrape right after the
 * response may come first: the tests scrape again until the exchange shows up, and fail after a hang guard.
 */
class ObservabilityIT {
  private static final String REQUEST_BODY =
      "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  /** Guards against hangs only; when things work every wait here ends within a second. */
  private static final long HANG_GUARD_SECONDS = 20;
  private static final Pattern SAMPLE = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{(.*)})? (\\S+)");
  private static final String ACCESS_LOGGER = " dev.thinkproxy.access - ";
  private static final Map<String, String> UPSTREAM = Map.of("upstream", "127.0.0.1");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\",?");

  private final MockWebServer upstream = new MockWebServer();

  @BeforeEach
  void startUpstream() throws IOException {
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stopUpstream() {
    upstream.close();
  }

  private String chatPath() {
    return "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";
  }

  // ---- metrics -------------------------------------------------------------------------------------------

  @Test
  void aCompletedStreamIsCountedAndTimed() throws Exception {
    try (ThinkProxyServer server =
        ThinkProxyServer.start("--port", "0", "--allow-private-networks", "--metrics", "--access-log")) {
      upstream.enqueue(Sse.streamResponse(streamWithUsage()));

      RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertThat(Sse.read(r.bodyText(), "reasoning_content").reasoning()).isEqualTo(Sse.REASONING);
      Map<String, String> completed = Map.of("outcome", "completed", "status", "200", "upstream", "127.0.0.1");
      Scrape scrape = scrapeUntil(server.port(), s -> s.has("thinkproxy_requests_total", completed));
      assertThat(scrape.value("thinkproxy_requests_total", completed)).isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_time_to_first_byte_seconds_count", UPSTREAM)).isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_time_to_first_byte_seconds_bucket", Map.of("upstream", "127.0.0.1",
          "le", "+Inf"))).as("a histogram Prometheus can take quantiles of").isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_duration_seconds_count", Map.of("outcome", "completed",
          "upstream", "127.0.0.1"))).isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_active_exchanges", Map.of())).isZero();
    }
  }

  @Test
  void metricsAreThePrometheusTextFormatWithTheJvmsOwn() throws Exception {
    try (ThinkProxyServer server = ThinkProxyServer.start("--port", "0", "--metrics")) {
      RawHttp.Response r = RawHttp.get(server.port(), "/metrics");

      assertThat(r.status()).as("%s", r).isEqualTo(200);
      String contentType = r.header("Content-Type").replace(" ", "").toLowerCase(Locale.ROOT);
      assertThat(contentType).startsWith("text/plain;").contains(";version=0.0.4").contains(";charset=utf-8");
      Scrape scrape = Scrape.parse(r.bodyText());
      assertThat(scrape.value("thinkproxy_active_exchanges", Map.of())).isZero();
      assertThat(scrape.has("jvm_memory_used_bytes", Map.of("area", "heap"))).isTrue();
      assertThat(scrape.has("jvm_threads_live_threads", Map.of())).isTrue();
      assertThat(scrape.has("system_cpu_count", Map.of())).isTrue();
      assertThat(scrape.has("process_uptime_seconds", Map.of())).isTrue();
      assertThat(r.bodyText()).contains("# TYPE thinkproxy_active_exchanges gauge");
    }
  }

  @Test
  void aPrivateTargetWithoutTheFlagIsCountedAsRefused() throws Exception {
    try (ThinkProxyServer server = ThinkProxyServer.start("--port", "0", "--metrics")) {
      RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

      assertThat(r.status()).as("%s", r).isEqualTo(403);
      Map<String, String> refused = Map.of("outcome", "refused", "status", "403", "upstream", "none");
      Scrape scrape = scrapeUntil(server.port(), s -> s.has("thinkproxy_requests_total", refused));
      assertThat(scrape.value("thinkproxy_requests_total", refused)).isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_duration_seconds_count", Map.of("outcome", "refused", "upstream", "none")))
          .isEqualTo(1.0);
      assertThat(upstream.getRequestCount()).isZero();
    }
  }

  @Test
  void metricsAreNotServedWithoutTheFlag() throws Exception {
    try (ThinkProxyServer server = ThinkProxyServer.start("--port", "0")) {
      RawHttp.Response r = RawHttp.get(server.port(), "/metrics");

      assertThat(r.status()).as("%s", r).isEqualTo(404);
      assertThat(r.bodyText()).doesNotContain("thinkproxy_");
    }
  }

  // ---- access log (the server in its own JVM, read where operators read it: on its standard error) ---------

  @Test
  void theAccessLogHasOneLinePerExchange() throws Exception {
    upstream.enqueue(Sse.streamResponse(streamWithUsage()));
    upstream.enqueue(Sse.streamResponse(streamWithUsage()));
    try (ChildServer server = ChildServer.start("--port", "0", "--allow-private-networks", "--access-log")) {
      RawHttp.Response r = RawHttp.postJson(server.port, chatPath(), REQUEST_BODY);
      String line = server.nextLine(l -> l.contains(ACCESS_LOGGER));

      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertThat(line).as("date and time from the logging configuration")
          .matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}(Z|[+-]\\d\\d:\\d\\d) .*");
      Map<String, String> fields = fields(line);
      assertThat(fields.keySet()).containsExactly("time", "client", "method", "upstream", "path", "model",
          "stream", "status", "outcome", "ttfb_ms", "ttfc_ms", "duration_ms", "chunks", "bytes", "prompt_tokens",
          "completion_tokens", "reasoning_tokens", "error");
      assertThat(fields).containsEntry("client", "127.0.0.1").containsEntry("method", "POST")
          .containsEntry("upstream", "127.0.0.1").containsEntry("path", "/v1/chat/completions")
          .containsEntry("model", "test-model").containsEntry("stream", "true").containsEntry("status", "200")
          .containsEntry("outcome", "completed").containsEntry("error", "-")
          .containsEntry("bytes", Integer.toString(r.body().length));
      assertThat(fields.get("time")).matches("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");
      assertThat(fields.get("ttfb_ms")).matches("\\d+");
      assertThat(fields.get("duration_ms")).matches("\\d+");
      assertThat(fields.get("chunks")).matches("[1-9]\\d*");

      // A model name chosen to forge a second line stays inside its field.
      String forged = "m\n2030-01-01T00:00:00.000Z [x] INFO dev.thinkproxy.access - time=forged status=200";
      RawHttp.postJson(server.port, chatPath(), REQUEST_BODY.replace("test-model", forged.replace("\n", "\\n")));
      String hostile = server.nextLine(l -> l.contains(ACCESS_LOGGER));

      assertThat(fields(hostile)).containsEntry("model", "\"" + forged.replace("\n", "\\n") + "\"")
          .containsEntry("status", "200");
      assertThat(server.linesSeen()).noneMatch(l -> l.contains("time=forged") && !l.equals(hostile));
    }
  }

  /**
   * Usage and the first token come from the rewriters' {@code ResponseObserver}; both the meters and the access
   * log line show them, counted once although the stream ends after the usage event.
   */
  @Test
  void tokensAndTheFirstTokenReachTheMetricsAndTheAccessLog() throws Exception {
    upstream.enqueue(Sse.streamResponse(streamWithUsage()));
    try (ChildServer server =
        ChildServer.start("--port", "0", "--allow-private-networks", "--access-log", "--metrics")) {
      RawHttp.Response r = RawHttp.postJson(server.port, chatPath(), REQUEST_BODY);
      Map<String, String> fields = fields(server.nextLine(l -> l.contains(ACCESS_LOGGER)));
      Scrape scrape = scrapeUntil(server.port, s -> s.has("thinkproxy_requests_total", UPSTREAM));

      assertThat(r.status()).as("%s", r).isEqualTo(200);
      assertThat(fields).containsEntry("prompt_tokens", "11").containsEntry("completion_tokens", "23")
          .containsEntry("reasoning_tokens", "7");
      assertThat(fields.get("ttfc_ms")).matches("\\d+");
      assertThat(scrape.value("thinkproxy_tokens_total", Map.of("type", "prompt", "upstream", "127.0.0.1")))
          .isEqualTo(11.0);
      assertThat(scrape.value("thinkproxy_tokens_total", Map.of("type", "completion", "upstream", "127.0.0.1")))
          .isEqualTo(23.0);
      assertThat(scrape.value("thinkproxy_tokens_total", Map.of("type", "reasoning", "upstream", "127.0.0.1")))
          .isEqualTo(7.0);
      assertThat(scrape.value("thinkproxy_time_to_first_token_seconds_count", UPSTREAM)).isEqualTo(1.0);
      assertThat(scrape.value("thinkproxy_time_to_first_token_seconds_bucket", Map.of("upstream", "127.0.0.1",
          "le", "+Inf"))).isEqualTo(1.0);
    }
  }

  // ---- helpers -------------------------------------------------------------------------------------------

  /** The think stream every test uses, with a usage event before {@code [DONE]} as OpenAI sends it. */
  private static String streamWithUsage() {
    String usage = "data: {\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        + "\"model\":\"test-model\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_tokens\":23,"
        + "\"total_tokens\":34,\"completion_tokens_details\":{\"reasoning_tokens\":7}}}\n\n";
    String body = Sse.streamBody(Sse.THINK_SPLIT_PIECES);
    return body.replace("data: [DONE]\n\n", usage + "data: [DONE]\n\n");
  }

  /**
   * Scrapes {@code /metrics} until {@code ready} holds. Each try is a real request, so the loop needs no pause; it
   * ends after the hang guard.
   */
  private static Scrape scrapeUntil(int port, Predicate<Scrape> ready) throws IOException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
    while (true) {
      RawHttp.Response r = RawHttp.get(port, "/metrics");
      assertThat(r.status()).as("%s", r).isEqualTo(200);
      Scrape scrape = Scrape.parse(r.bodyText());
      if (ready.test(scrape)) {
        return scrape;
      }
      if (System.nanoTime() > deadline) {
        fail("the metrics never showed the exchange:%n%s", r.bodyText());
      }
    }
  }

  /** The logfmt fields after the logger name; quoted values keep their quotes and escapes. */
  private static Map<String, String> fields(String logLine) {
    String logfmt = logLine.substring(logLine.indexOf(ACCESS_LOGGER) + ACCESS_LOGGER.length());
    Map<String, String> out = new LinkedHashMap<>();
    Matcher m = Pattern.compile("([a-z_]+)=(\"(?:[^\"\\\\]|\\\\.)*\"|\\S*)(?: |$)").matcher(logfmt);
    int at = 0;
    while (at < logfmt.length()) {
      assertThat(m.find(at) && m.start() == at).as("logfmt at %d of %s", at, logfmt).isTrue();
      out.put(m.group(1), m.group(2));
      at = m.end();
    }
    return out;
  }

  /** Samples of one scrape in the Prometheus text format. */
  record Scrape(List<Sample> samples) {
    record Sample(String name, Map<String, String> labels, double value) {}

    static Scrape parse(String text) {
      List<Sample> samples = new ArrayList<>();
      for (String line : text.split("\n")) {
        if (line.isBlank() || line.startsWith("#")) {
          continue;
        }
        Matcher m = SAMPLE.matcher(line);
        assertThat(m.matches()).as("a sample line: %s", line).isTrue();
        Map<String, String> labels = new LinkedHashMap<>();
        if (m.group(2) != null) {
          Matcher l = LABEL.matcher(m.group(2));
          while (l.find()) {
            labels.put(l.group(1), l.group(2));
          }
        }
        samples.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(3).replace("+Inf", "Infinity"))));
      }
      return new Scrape(samples);
    }

    boolean has(String name, Map<String, String> labels) {
      return samples.stream().anyMatch(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet()));
    }

    /** The value of the one sample named {@code name} whose labels include {@code labels}. */
    double value(String name, Map<String, String> labels) {
      List<Sample> found = samples.stream()
          .filter(s -> s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet()))
          .toList();
      assertThat(found).as("%s%s in %s", name, labels,
          samples.stream().filter(s -> s.name().startsWith("thinkproxy_")).toList()).hasSize(1);
      return found.get(0).value();
    }
  }

  /** The standalone server's main in a child JVM with this test's class path, its standard error read by line. */
  private static final class ChildServer implements AutoCloseable {
    private static final Pattern LISTENING = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");

    private final Process process;
    private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
    private final List<String> seen = new ArrayList<>();
    private int port;

    private ChildServer(Process process) {
      this.process = process;
      Thread reader = new Thread(() -> {
        try (BufferedReader in = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
          for (String line; (line = in.readLine()) != null; ) {
            lines.add(line);
          }
        } catch (IOException e) {
          lines.add("(reading the server's output failed: " + e + ")");
        }
      }, "child-server-output");
      reader.setDaemon(true);
      reader.start();
    }

    static ChildServer start(String... args) throws Exception {
      String classPath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
      List<String> command = new ArrayList<>(List.of(
          Path.of(System.getProperty("java.home"), "bin", "java").toString(),
          "-XX:TieredStopAtLevel=1", "-cp", classPath, ThinkProxyServer.class.getName()));
      command.addAll(List.of(args));
      ChildServer server = new ChildServer(new ProcessBuilder(command).redirectErrorStream(true).start());
      Matcher m = LISTENING.matcher(server.nextLine(l -> LISTENING.matcher(l).find()));
      assertThat(m.find()).isTrue();
      server.port = Integer.parseInt(m.group(1));
      return server;
    }

    /** The next line of output that matches, waiting at most the hang guard. */
    String nextLine(Predicate<String> wanted) throws InterruptedException {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(HANG_GUARD_SECONDS);
      while (true) {
        String line = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        if (line == null) {
          fail("no such line from the server; it wrote:%n%s", String.join("\n", seen));
        }
        seen.add(line);
        if (wanted.test(line)) {
          return line;
        }
      }
    }

    /** Every line read so far, and every line already written. */
    List<String> linesSeen() {
      lines.drainTo(seen);
      return seen;
    }

    /** Stops the server as SIGTERM does, and kills it if it has not stopped within the hang guard. */
    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(HANG_GUARD_SECONDS, TimeUnit.SECONDS)) {
          process.destroyForcibly();
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
    }
  }
}
