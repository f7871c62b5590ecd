package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The server configured by a file: in this JVM, and as users run it, the packaged jar in a process of its own with
 * a real environment variable.
 */
class ConfigFileIT {
  private static final String REQUEST_BODY =
      "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  /** Built by the package phase, which runs before the integration tests. */
  private static final Path SERVER_JAR = Path.of("target", "thinkproxy-server.jar");
  /** Guards against a hang only; the server starts in about a second. */
  private static final long HANG_GUARD_SECONDS = 60;
  private static final Pattern LISTENING = Pattern.compile("thinkproxy listening on http://127\\.0\\.0\\.1:(\\d+)");

  @TempDir
  Path dir;

  private MockWebServer upstream;
  private final List<AutoCloseable> toClose = new ArrayList<>();

  @BeforeEach
  void startUpstream() throws IOException {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
  }

  @AfterEach
  void stopAll() throws Exception {
    for (AutoCloseable c : toClose) {
      c.close();
    }
    upstream.close();
  }

  private String chatPath() {
    return "/proxy/http://127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";
  }

  @Test
  void aServerStartedFromAFileUsesItsSettings() throws Exception {
    Path file = Files.writeString(dir.resolve("thinkproxy.yaml"),
        "port: 0\nallow-private-networks: true\nthink-mode: strip\n");
    ThinkProxyServer server = ThinkProxyServer.start(Map.of(), "--config", file.toString());
    toClose.add(server);
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postJson(server.port(), chatPath(), REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    Sse.Received got = Sse.read(r.bodyText(), "reasoning_content");
    assertThat(got.content()).isEqualTo(Sse.ANSWER);
    assertThat(got.reasoning()).as("strip drops the reasoning").isEmpty();
    assertThat(got.otherReasoning()).isEmpty();
    assertThat(got.done()).isTrue();
  }

  /**
   * One option for each step of the order: the file allows the loopback upstream (file beats the default), the
   * environment's think mode beats the file's strip, and the flag's reasoning field beats the environment's.
   */
  @Test
  void thePackagedServerTakesFlagsThenEnvironmentThenFile() throws Exception {
    Path file = Files.writeString(dir.resolve("thinkproxy.properties"), "port=0\n"
        + "allow-private-networks=true\n"
        + "think-mode=strip\n"
        + "reasoning-field=reasoning_content\n");
    Process server = launch(Map.of("THINKPROXY_THINK_MODE", "split", "THINKPROXY_REASONING_FIELD", "reasoning_content"),
        "--config", file.toString(), "--reasoning-field", "reasoning");
    int port = listeningPort(server);
    upstream.enqueue(Sse.thinkStream());

    RawHttp.Response r = RawHttp.postJson(port, chatPath(), REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(200);
    Sse.Received got = Sse.read(r.bodyText(), "reasoning");
    assertThat(got.reasoning()).isEqualTo(Sse.REASONING);
    assertThat(got.otherReasoning()).as("reasoning_content must not appear").isEmpty();
    assertThat(got.content()).isEqualTo(Sse.ANSWER);
  }

  @Test
  void thePackagedServerRefusesABadFileWithStatus2() throws Exception {
    Path file = Files.writeString(dir.resolve("thinkproxy.yaml"), "port: 0\nalow-host: a.example\n");
    Process server = launch(Map.of("THINKPROXY_CONFIG", file.toString()));

    assertThat(server.waitFor(HANG_GUARD_SECONDS, TimeUnit.SECONDS)).as("the server stopped").isTrue();
    String output = new String(server.getInputStream().readAllBytes(), StandardCharsets.UTF_8);

    assertThat(server.exitValue()).as(output).isEqualTo(2);
    assertThat(output).contains("config file " + file + ": unknown key 'alow-host' (did you mean 'allow-host'?)");
  }

  /** Starts the jar with exactly the given THINKPROXY_ variables, stderr merged into stdout. */
  private Process launch(Map<String, String> env, String... args) throws IOException {
    assertThat(SERVER_JAR).as("the server jar (mvn package builds it)").exists();
    List<String> command = new ArrayList<>(List.of(
        Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", SERVER_JAR.toString()));
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().keySet().removeIf(name -> name.startsWith("THINKPROXY_"));
    builder.environment().putAll(env);
    Process process = builder.start();
    toClose.add(() -> {
      process.destroy();
      if (!process.waitFor(HANG_GUARD_SECONDS, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    });
    return process;
  }

  /** Reads the server's log until it says where it listens; the log is drained from then on. */
  private static int listeningPort(Process server) throws Exception {
    CompletableFuture<Integer> port = new CompletableFuture<>();
    StringBuilder log = new StringBuilder();
    Thread reader = new Thread(() -> {
      try (BufferedReader in = new BufferedReader(
          new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = in.readLine()) != null; ) {
          synchronized (log) {
            log.append(line).append('\n');
          }
          Matcher m = LISTENING.matcher(line);
          if (m.find()) {
            port.complete(Integer.parseInt(m.group(1)));
          }
        }
        synchronized (log) {
          port.completeExceptionally(new IllegalStateException("the server ended:\n" + log));
        }
      } catch (IOException e) {
        port.completeExceptionally(e);
      }
    }, "server-log");
    reader.setDaemon(true);
    reader.start();
    return port.get(HANG_GUARD_SECONDS, TimeUnit.SECONDS);
  }
}
