package dev.thinkproxy.load;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * What the runners share: the mock upstream and the proxy as child processes on free loopback ports, the
 * options that choose the proxy's JDK, jar, JVM flags and own flags, and the log directory. A runner with an
 * upstream of its own starts only the proxy.
 */
final class Harness implements AutoCloseable {
  /** The options every runner takes (all with a value; the repeatable ones may be given many times). */
  static final Set<String> OPTIONS = Set.of("--proxy-java", "--proxy-jar", "--proxy-jvm-arg", "--proxy-arg",
      "--log-dir");
  static final String OPTIONS_HELP = """
        --proxy-java PATH      java binary or JDK home that runs the proxy (default: the runner's own java)
        --proxy-jar PATH       the standalone server (default: proxy-examples/target/thinkproxy-server.jar)
        --proxy-jvm-arg ARG    a JVM flag for the proxy, repeatable (e.g. --proxy-jvm-arg=-Xmx2g)
        --proxy-arg ARG        a flag for the proxy, repeatable (e.g. --proxy-arg=--idle-timeout=5s)
        --log-dir DIR          where the children's output goes (default: proxy-bench/target/load-logs/RUN-TIME)
      """;
  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Pattern SAFEPOINT_TOTAL = Pattern.compile("Safepoint .*Total: (\\d+) ns");

  private final Path javaOfRunner = Path.of(ProcessHandle.current().info().command().orElse("java"));
  private final Path benchJar = codeSource();
  private final Path proxyJava;
  private final Path proxyJar;
  private final List<String> proxyJvmArgs;
  private final List<String> proxyArgs;
  private final Path logDir;
  private ChildProcess mock;
  private ChildProcess proxy;
  private final List<ChildProcess> servers = new ArrayList<>();
  private int mockPort;
  private int proxyPort;
  private ProcessStats proxyStats;

  Harness(Args a, String runName) {
    String java = a.string("--proxy-java", null);
    proxyJava = java == null ? javaOfRunner : javaBinary(Path.of(java));
    Path defaultJar = repoRoot().resolve("proxy-examples/target/thinkproxy-server.jar");
    proxyJar = Path.of(a.string("--proxy-jar", defaultJar.toString())).toAbsolutePath();
    proxyJvmArgs = a.all("--proxy-jvm-arg");
    proxyArgs = a.all("--proxy-arg");
    String stamp = LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
    logDir = Path.of(a.string("--log-dir", benchTarget().resolve("load-logs").resolve(runName + "-" + stamp)
        .toString())).toAbsolutePath();
  }

  /** Starts the mock upstream (on the runner's own java) and waits until it answers. */
  void startMock() throws IOException, InterruptedException {
    mockPort = freePort();
    List<String> cmd = List.of(javaOfRunner.toString(), "-cp", benchJar.toString(),
        MockUpstream.class.getName(), "--port", Integer.toString(mockPort), "--stats-interval", "10s");
    mock = ChildProcess.start("mock", cmd, logDir.resolve("mock.log"));
    mock.awaitReady(uri(mockPort, "/v1/models"), STARTUP);
  }

  /** A server of the benchmarks jar, started like the proxy (same java, same JVM flags): see {@link #startServer}. */
  record Server(String name, ChildProcess process, int port, ProcessStats stats) {
    InetSocketAddress address() {
      return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }
  }

  /**
   * Starts {@code mainClass} of the benchmarks jar with {@code --port P} on the proxy's java and JVM flags (not
   * the {@code --proxy-arg}s, which are the standalone server's own), with a GC and safepoint log of its own;
   * waits for its {@code /healthz}.
   */
  Server startServer(String name, Class<?> mainClass) throws IOException, InterruptedException {
    int port = freePort();
    List<String> cmd = new ArrayList<>();
    cmd.add(proxyJava.toString());
    cmd.add("-Xlog:gc,safepoint:file=" + logDir.resolve(name + "-gc.log"));
    cmd.addAll(proxyJvmArgs);
    cmd.addAll(List.of("-cp", benchJar.toString(), mainClass.getName(), "--port", Integer.toString(port)));
    ChildProcess p = ChildProcess.start(name, cmd, logDir.resolve(name + ".log"));
    servers.add(p);
    p.awaitReady(uri(port, "/healthz"), STARTUP);
    return new Server(name, p, port, new ProcessStats(p.pid()));
  }

  /**
   * Starts the proxy with {@code --port}, {@code --allow-private-networks}, then {@code defaults} unless the
   * user gave the same flag, then the user's {@code --proxy-arg}s; waits for {@code /healthz}.
   */
  void startProxy(List<String> defaults) throws IOException, InterruptedException {
    if (!Files.isRegularFile(proxyJar)) {
      throw new IOException("no proxy jar at " + proxyJar + "; build it with: mvn -B -q -DskipTests package "
          + "-pl proxy-bench,proxy-examples -am (or pass --proxy-jar)");
    }
    proxyPort = freePort();
    List<String> cmd = new ArrayList<>();
    cmd.add(proxyJava.toString());
    // Pauses are the first suspect for a latency spike; the log costs nothing measurable.
    cmd.add("-Xlog:gc,safepoint:file=" + logDir.resolve("proxy-gc.log"));
    cmd.addAll(proxyJvmArgs);
    cmd.addAll(List.of("-jar", proxyJar.toString(), "--port", Integer.toString(proxyPort),
        "--allow-private-networks"));
    for (String d : defaults) {
      String name = d.split("=", 2)[0];
      if (proxyArgs.stream().noneMatch(u -> u.split("=", 2)[0].equals(name))) {
        cmd.add(d);
      }
    }
    cmd.addAll(proxyArgs);
    proxy = ChildProcess.start("proxy", cmd, logDir.resolve("proxy.log"));
    proxy.awaitReady(uri(proxyPort, "/healthz"), STARTUP);
    proxyStats = new ProcessStats(proxy.pid());
  }

  InetSocketAddress mockAddress() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), mockPort);
  }

  InetSocketAddress proxyAddress() {
    return new InetSocketAddress(InetAddress.getLoopbackAddress(), proxyPort);
  }

  /** The mock's chat-completions path with {@code query}, for a client talking to the mock directly. */
  String directPath(String query) {
    return "/v1/chat/completions?" + query;
  }

  /** The same through the proxy: the mock's URL after the proxy's {@code /proxy/}. */
  String proxiedPath(String query) {
    return "/proxy/http://127.0.0.1:" + mockPort + directPath(query);
  }

  MockStats mockStats() throws IOException {
    ChildProcess.Response r = ChildProcess.get(uri(mockPort, "/stats"));
    return new ObjectMapper().readValue(r.body(), MockStats.class);
  }

  ProcessStats proxyStats() {
    return proxyStats;
  }

  ChildProcess proxyProcess() {
    return proxy;
  }

  /** The mock's own process, for its CPU, memory and threads. */
  ProcessStats mockProcessStats() throws IOException {
    return new ProcessStats(mock.pid());
  }

  Path logDir() {
    return logDir;
  }

  /**
   * The exact commands of the run, the proxy's JVM as it runs ({@code java -version} of its binary and
   * {@code jcmd VM.flags}), the open-file limits and the log directory, as Markdown.
   */
  String describeRun() throws IOException, InterruptedException {
    Process p = new ProcessBuilder(proxyJava.toString(), "-version").redirectErrorStream(true).start();
    String version = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip()
        .replace("\n", " / ");
    p.waitFor();
    return "runner: `" + ownCommandLine() + "`\n\n"
        + (mock == null ? "" : "mock: `" + shellJoin(mock.command()) + "`\n\n")
        + "proxy: `" + shellJoin(proxy.command()) + "`\n\n"
        + servers.stream().map(s -> s.name() + ": `" + shellJoin(s.command()) + "`\n\n").collect(Collectors.joining())
        + "proxy java: `" + version + "`\n\n"
        + "proxy VM.flags: `" + proxyStats.vmFlags() + "`\n\n"
        + openFileLimits() + "; logs in `" + logDir + "`\n\n";
  }

  /** The longest safepoint (GC pauses included) in the proxy's log so far, in ms, or n/a. */
  String longestProxySafepoint() {
    return longestSafepoint("proxy");
  }

  /** The same for the proxy or a server started here, by its name. */
  String longestSafepoint(String name) {
    try (Stream<String> lines = Files.lines(logDir.resolve(name + "-gc.log"))) {
      OptionalLong max = lines.map(SAFEPOINT_TOTAL::matcher).filter(Matcher::find)
          .mapToLong(m -> Long.parseLong(m.group(1))).max();
      return max.isPresent() ? Report.ms(max.getAsLong() / 1000) + " ms" : "n/a";
    } catch (IOException | UncheckedIOException e) {
      return "n/a";
    }
  }

  /** The soft open-file limits in force, which decide how many streams can be open. */
  private String openFileLimits() {
    return "open-file limits: runner " + FileLimits.openFileLimit("self")
        + ", mock " + (mock == null ? "–" : FileLimits.openFileLimit(Long.toString(mock.pid())))
        + ", proxy " + (proxy == null ? "–" : FileLimits.openFileLimit(Long.toString(proxy.pid())))
        + servers.stream().map(s -> ", " + s.name() + " " + FileLimits.openFileLimit(Long.toString(s.pid())))
            .collect(Collectors.joining());
  }

  /** This runner's own command line, as the kernel has it. */
  private static String ownCommandLine() {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
      List<String> parts = new ArrayList<>();
      int start = 0;
      for (int i = 0; i < raw.length; i++) {
        if (raw[i] == 0) {
          parts.add(new String(raw, start, i - start));
          start = i + 1;
        }
      }
      return shellJoin(parts);
    } catch (IOException e) {
      return ProcessHandle.current().info().commandLine().orElse("(unknown)");
    }
  }

  private static String shellJoin(List<String> parts) {
    StringBuilder sb = new StringBuilder();
    for (String p : parts) {
      if (sb.length() > 0) {
        sb.append(' ');
      }
      sb.append(p.matches("[A-Za-z0-9_./:=@%+,-]+") ? p : "'" + p.replace("'", "'\\''") + "'");
    }
    return sb.toString();
  }

  @Override
  public void close() {
    servers.forEach(ChildProcess::close);
    if (proxy != null) {
      proxy.close();
    }
    if (mock != null) {
      mock.close();
    }
  }

  private static URI uri(int port, String path) {
    return URI.create("http://127.0.0.1:" + port + path);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  private static Path javaBinary(Path given) {
    Path bin = given.resolve("bin").resolve("java");
    return Files.isDirectory(given) && Files.isExecutable(bin) ? bin : given;
  }

  /** The benchmarks jar (or the classes directory when run from an IDE). */
  private static Path codeSource() {
    try {
      return Path.of(Harness.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }

  /** proxy-bench/target, found from where this class was loaded. */
  private Path benchTarget() {
    return benchJar.getParent();
  }

  private Path repoRoot() {
    Path root = benchTarget().getParent() == null ? null : benchTarget().getParent().getParent();
    return root != null && new File(root.toFile(), "proxy-examples").isDirectory() ? root : Path.of("");
  }
}
