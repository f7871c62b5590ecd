package dev.thinkproxy.examples;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.MicrometerProxyListener;
import dev.thinkproxy.servlet.ChatCompletionProxyServlet;
import dev.thinkproxy.servlet.CorsPolicy;
import dev.thinkproxy.servlet.InitParams;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.File;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleException;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.core.StandardHost;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.AbstractProtocol;
import org.apache.coyote.http11.Http11NioProtocol;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.IParameterExceptionHandler;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;

/**
 * The standalone thinkproxy server: an embedded Tomcat with {@link ChatCompletionProxyServlet} at
 * {@code /proxy/*}, {@code GET /healthz}, and with {@code --metrics} {@code GET /metrics} for Prometheus. Every
 * flag {@code --NAME} can also be given as the environment variable {@code THINKPROXY_NAME} (upper snake case) or as
 * the key {@code NAME} of the YAML or properties file that {@code --config} names; a flag on the command line wins
 * over the variable, which wins over the file.
 *
 * <p>The connector accepts every base-URL form of the contract: {@code https://host} (Tomcat keeps the raw
 * request URI), {@code https:/host}, percent-encoded slashes ({@code encodedSolidusHandling=passthrough}) and raw
 * IPv6 brackets ({@code relaxedPathChars}). Errors the container produces itself are JSON too.
 */
@Command(
    name = "thinkproxy-server",
    mixinStandardHelpOptions = true,
    version = "thinkproxy 0.1.0",
    description = "Forwards OpenAI-compatible chat completions to the provider in the path and moves "
        + "<think> reasoning into its own field.%n%n"
        + "  base URL for clients: http://HOST:PORT/proxy/https://api.provider.com/v1%n",
    sortOptions = false)
public final class ThinkProxyServer implements Callable<Integer>, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ThinkProxyServer.class);

  @Option(names = "--port", paramLabel = "N", defaultValue = "8080", description = "Port to listen on (default ${DEFAULT-VALUE}; 0 picks a free one).")
  int port;

  @Option(names = "--bind", paramLabel = "ADDR", defaultValue = "127.0.0.1", description = "Address to listen on (default ${DEFAULT-VALUE}).")
  String bind;

  @Option(names = "--config", paramLabel = "FILE", description = "YAML (.yaml, .yml) or properties file of settings, keys named like the flags without --. Flags beat THINKPROXY_* variables, which beat this file, which beats the defaults.")
  Path config;

  @Option(names = "--allow-private-networks", description = "Permit upstreams on loopback, private and link-local addresses (a local vLLM or Ollama).")
  boolean allowPrivateNetworks;

  @Option(names = "--allow-host", paramLabel = "PATTERN", split = ",", description = "Only allow matching upstream hosts: host, host:port, *.domain, or an IP literal (which also permits that private address). Repeatable.")
  List<String> allowHosts;

  @Option(names = "--provider", paramLabel = "NAME=URL", split = ",", description = "Provider alias: /proxy/NAME/v1/... goes to URL/... (URL is the provider's base URL for OpenAI clients, e.g. local=http://10.0.0.5:8000/v1). Replaces a built-in alias of the same name; NAME= removes one. Repeatable.")
  List<String> providers;

  @Option(names = "--no-builtin-providers", description = "Start from no provider aliases instead of the built-in set (openai, groq, openrouter, ...).")
  boolean noBuiltinProviders;

  @Option(names = "--aliases-only", description = "Serve only provider aliases: a base URL in the path gets 403. Turns the proxy into a closed gateway to the configured providers.")
  boolean aliasesOnly;

  @Option(names = "--think-mode", paramLabel = "MODE", description = "split (default), wrap, strip or off.")
  String thinkMode;

  @Option(names = "--reasoning-field", paramLabel = "FIELD", description = "reasoning_content (default) or reasoning.")
  String reasoningField;

  @Option(names = "--think-tags", paramLabel = "TAGS", description = "Comma-separated tag names (default think), or OPEN|CLOSE pairs.")
  String thinkTags;

  @Option(names = "--think-anywhere", description = "Extract <think> blocks anywhere in the answer, not only at its start.")
  boolean thinkAnywhere;

  @Option(names = "--think-keep-whitespace", description = "Keep whitespace around tags byte-exact instead of trimming it.")
  boolean thinkKeepWhitespace;

  @Option(names = "--implicit-open-models", paramLabel = "REGEX", description = "Models whose answer starts inside reasoning (the template opens <think> in the prompt), e.g. 'deepseek-r1|qwq'.")
  String implicitOpenModels;

  @Option(names = "--lift-request-reasoning", description = "Move a leading <think> block of assistant messages in the request history into reasoning_content before forwarding (for wrap-mode clients and providers such as DeepSeek that want it back).")
  boolean liftRequestReasoning;

  @Option(names = "--idle-timeout", paramLabel = "DURATION", description = "Longest silence between reads of the upstream's answer (default 300s; 0 = none); a stream that breaks it ends with an error event.")
  String idleTimeout;

  @Option(names = "--first-byte-timeout", paramLabel = "DURATION", description = "Longest wait for the upstream's response headers; 504 when it runs out (default: the idle timeout). A non-streaming answer's headers come only when it is complete.")
  String firstByteTimeout;

  @Option(names = "--total-timeout", paramLabel = "DURATION", description = "Longest whole exchange, stream included (default 0 = none).")
  String totalTimeout;

  @Option(names = "--heartbeat-interval", paramLabel = "DURATION", description = "Silence on an event stream before the proxy sends a ': keep-alive' comment, which keeps middleboxes from cutting the stream and notices clients that left (default 15s; 0 = none).")
  String heartbeatInterval;

  @Option(names = "--connect-timeout", paramLabel = "DURATION", description = "Upstream connect timeout (default 10s).")
  String connectTimeout;

  @Option(names = "--max-body-bytes", paramLabel = "N", description = "Largest request body accepted (default 33554432 = 32 MiB).")
  String maxBodyBytes;

  @Option(names = "--max-response-buffer-bytes", paramLabel = "N", description = "Largest non-streaming JSON answer that is rewritten; a larger one passes unchanged (default 33554432 = 32 MiB).")
  String maxResponseBufferBytes;

  @Option(names = "--max-concurrent-requests", paramLabel = "N", description = "Most requests handled at once, streams included; more get 503 with Retry-After (default 20000).")
  String maxConcurrentRequests;

  @Option(names = "--proxy-key", paramLabel = "KEY", split = ",", description = "Require this access key from clients (header X-Thinkproxy-Key); requests without a valid key get 401. Repeatable. Turn this on before exposing the proxy beyond this machine; prefer --proxy-key-file or THINKPROXY_PROXY_KEY, which other users cannot see in the process list.")
  List<String> proxyKeys;

  @Option(names = "--proxy-key-file", paramLabel = "FILE", description = "File with one access key per line (# starts a comment).")
  String proxyKeyFile;

  @Option(names = "--proxy-key-header", paramLabel = "NAME", description = "Header that carries the access key (default X-Thinkproxy-Key); never forwarded upstream.")
  String proxyKeyHeader;

  @Option(names = "--ca-file", paramLabel = "PEM", split = ",", description = "PEM file of CA certificates to trust for upstream TLS in addition to the system's (a provider behind a private CA). Repeatable.")
  List<String> caFiles;

  @Option(names = "--cors-origin", paramLabel = "ORIGIN", split = ",", description = "Let browser apps on this origin (scheme://host[:port], e.g. https://chat.example.com; or * for any) call the proxy: preflights are answered and responses carry CORS headers. Repeatable. Off by default.")
  List<String> corsOrigins;

  @Option(names = "--cors-allow-credentials", description = "Send Access-Control-Allow-Credentials: true, so browsers may send cookies and HTTP authentication; not with --cors-origin '*'.")
  boolean corsAllowCredentials;

  @Option(names = "--cors-max-age", paramLabel = "DURATION", description = "How long browsers may cache a preflight answer (default 600s).")
  String corsMaxAge;

  @Option(names = "--shutdown-grace", paramLabel = "DURATION", defaultValue = "30s", description = "On SIGTERM, how long running streams may go on before they are ended (default ${DEFAULT-VALUE}).")
  String shutdownGrace;

  @Option(names = "--access-log", description = "Log one line per exchange (client, upstream, model, status, outcome, latencies, tokens; never keys or bodies) at INFO on the logger dev.thinkproxy.access.")
  boolean accessLog;

  @Option(names = "--metrics", description = "Serve Prometheus metrics at GET /metrics on the same port: requests, time to first token and byte, durations, active exchanges, tokens, and the JVM's.")
  boolean metrics;

  private Tomcat tomcat;
  private Connector connector;
  private ChatCompletionProxy proxy;
  private PrometheusMeterRegistry registry;
  private File baseDir;
  private Duration grace;
  private final AtomicBoolean closed = new AtomicBoolean();
  private ConfiguredDefaults defaults;
  private CommandSpec spec;

  /** Runs the server until the JVM is stopped. */
  public static void main(String[] args) {
    ThinkProxyServer server = new ThinkProxyServer();
    CommandLine cli = server.commandLine(System.getenv());
    IParameterExceptionHandler usageError = cli.getParameterExceptionHandler();
    cli.setParameterExceptionHandler((e, rest) -> {
      Optional<String> fromFile = server.defaults.fromFile(e);
      if (fromFile.isEmpty()) {
        return usageError.handleParseException(e, rest);
      }
      log.error("invalid configuration: {}", fromFile.get());
      return 2;
    });
    int code = cli.execute(args);
    if (code != 0 || server.tomcat == null) {
      System.exit(code);
    }
    Runtime.getRuntime().addShutdownHook(new Thread(server::shutdownGracefully, "thinkproxy-shutdown"));
    server.tomcat.getServer().await();
  }

  /**
   * Starts a server from command-line arguments and returns it running; for tests and embedding.
   *
   * @throws IllegalArgumentException when an argument is invalid
   */
  public static ThinkProxyServer start(String... args) {
    return start(System.getenv(), args);
  }

  /** {@link #start(String...)} with {@code env} as the environment. */
  static ThinkProxyServer start(Map<String, String> env, String... args) {
    ThinkProxyServer server = configure(env, args);
    try {
      server.startServer();
    } catch (IllegalArgumentException e) {
      throw server.defaults.traceToFile(e);
    } catch (LifecycleException | IOException e) {
      throw new IllegalStateException("the server did not start", e);
    }
    return server;
  }

  /**
   * A server with its options set from the arguments, {@code env} and the config file, not started.
   *
   * @throws IllegalArgumentException when an argument, variable or the config file is invalid
   */
  static ThinkProxyServer configure(Map<String, String> env, String... args) {
    ThinkProxyServer server = new ThinkProxyServer();
    CommandLine cli = server.commandLine(env);
    try {
      cli.parseArgs(args);
    } catch (ParameterException e) {
      throw new IllegalArgumentException(server.defaults.fromFile(e).orElse(e.getMessage()), e);
    }
    server.defaults.requireValidFile();
    return server;
  }

  private CommandLine commandLine(Map<String, String> env) {
    CommandLine cli = new CommandLine(this);
    spec = cli.getCommandSpec();
    defaults = new ConfiguredDefaults(spec, env);
    cli.setDefaultValueProvider(defaults);
    return cli;
  }

  @Override
  public Integer call() throws Exception {
    try {
      defaults.requireValidFile();
      startServer();
    } catch (IllegalArgumentException e) {
      log.error("invalid configuration: {}", defaults.traceToFile(e).getMessage());
      return 2;
    }
    return 0;
  }

  /** The port the server listens on. */
  public int port() {
    return connector.getLocalPort();
  }

  /** Whether a graceful shutdown has stopped the server from taking new requests. */
  boolean paused() {
    return ((AbstractProtocol<?>) connector.getProtocolHandler()).isPaused();
  }

  /** The proxy behind the servlet. */
  public ChatCompletionProxy proxy() {
    return proxy;
  }

  /**
   * The parsed options that are proxy settings, by their {@link InitParams} names (every such flag is named like its
   * init-param): repeatable ones comma-joined, flags {@code true}/{@code false}, unset ones absent.
   */
  private Map<String, String> proxySettings() {
    Map<String, String> settings = new HashMap<>();
    for (OptionSpec option : spec.options()) {
      String name = option.longestName().substring(2);
      Object value = option.getValue();
      if (InitParams.NAMES.contains(name) && value != null) {
        settings.put(name, value instanceof List<?> list
            ? list.stream().map(String::valueOf).collect(Collectors.joining(","))
            : value.toString());
      }
    }
    return settings;
  }

  private void startServer() throws LifecycleException, IOException {
    Map<String, String> settings = proxySettings();
    CorsPolicy cors = InitParams.corsPolicy(settings::get);
    grace = InitParams.parseDuration("--shutdown-grace", shutdownGrace);
    ChatCompletionProxy.Builder builder = InitParams.toBuilder(settings::get);
    if (metrics) {
      registry = metricsRegistry();
      builder.addListener(new MicrometerProxyListener(registry));
    }
    proxy = builder.build();

    baseDir = Files.createTempDirectory("thinkproxy-tomcat").toFile();
    tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.getAbsolutePath());
    connector = new Connector(Http11NioProtocol.class.getName());
    connector.setPort(port);
    connector.setProperty("address", bind);
    // The proxy parses the raw request URI itself; these let every base-URL form reach it.
    connector.setEncodedSolidusHandling("passthrough");
    connector.setProperty("relaxedPathChars", "[]|");
    connector.setProperty("relaxedQueryChars", "[]|{}^\\`\"<>");
    connector.setProperty("maxThreads", "200");
    // Streams are async: they hold a connection, not a thread. Tomcat's default of 8192 connections would stall
    // the rest in the accept queue long before the proxy's own limit answers them with 503.
    connector.setProperty("maxConnections", Integer.toString(proxy.maxConcurrentRequests() + 1024));
    connector.setProperty("acceptCount", "1024");
    // Tomcat keeps closed connections' channel objects for reuse, and with them their request processors and
    // buffers (about 100 KiB each); by default it sizes that cache from the maximum heap, so after a burst of
    // thousands of streams the heap stayed a gigabyte larger. Five hundred covers any steady rate.
    connector.setProperty("socket.bufferPool", "500");
    connector.setProperty("connectionTimeout", "30000");
    // Bound at start, not at init, so a graceful shutdown can close the listening socket and new clients are
    // refused at once instead of waiting in the accept queue.
    connector.setProperty("bindOnInit", "false");
    tomcat.setConnector(connector);
    ((StandardHost) tomcat.getHost()).setErrorReportValveClass(JsonErrorReportValve.class.getName());

    Context context = tomcat.addContext("", baseDir.getAbsolutePath());
    Tomcat.addServlet(context, "thinkproxy", new ChatCompletionProxyServlet(proxy, cors)).setAsyncSupported(true);
    context.addServletMappingDecoded("/proxy/*", "thinkproxy");
    Tomcat.addServlet(context, "health", new HealthServlet());
    context.addServletMappingDecoded("/healthz", "health");
    if (registry != null) {
      Tomcat.addServlet(context, "metrics", new MetricsServlet(registry));
      context.addServletMappingDecoded("/metrics", "metrics");
    }
    tomcat.start();

    String base = "http://" + (bind.contains(":") ? "[" + bind + "]" : bind) + ":" + port();
    if (proxy.aliasesOnly()) {
      log.info("thinkproxy listening on {}; point an OpenAI client at {}/proxy/NAME/v1 with NAME one of {}",
          base, base, String.join(", ", proxy.providers().asMap().keySet()));
    } else {
      log.info("thinkproxy listening on {}; point an OpenAI client at {}/proxy/https://api.openai.com/v1 "
          + "(any provider's base URL after /proxy/) or at {}/proxy/NAME/v1 with NAME one of {}",
          base, base, base, String.join(", ", proxy.providers().asMap().keySet()));
    }
    if (!proxy.requiresAccessKey() && !isLoopback(bind)) {
      log.warn("listening on {} without --proxy-key: anyone who can reach this port can use the proxy", bind);
    }
    if (proxy.targetPolicy().allowPrivateNetworks()) {
      log.warn("private networks are allowed: any client of this proxy can reach services on this machine's networks");
    }
  }

  /** A Prometheus registry with the proxy's meters to come and the JVM's and process's own. */
  private static PrometheusMeterRegistry metricsRegistry() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    return registry;
  }

  private static boolean isLoopback(String address) {
    try {
      return InetAddress.getByName(address).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  /** Stops accepting requests, lets running streams finish within the grace period, then ends them. */
  void shutdownGracefully() {
    log.info("shutting down: waiting up to {} s for {} running exchanges", grace.toSeconds(), proxy.activeExchanges());
    // Close the listening socket first, so no client connects in between and waits in the accept queue.
    connector.getProtocolHandler().closeServerSocketGraceful();
    connector.pause();
    try {
      if (!proxy.awaitIdle(grace)) {
        log.info("grace period over; ending {} exchanges", proxy.activeExchanges());
      }
      proxy.close();
      proxy.awaitIdle(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    close();
  }

  /** Stops the server at once: running streams end with an error event. */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    proxy.close();
    try {
      tomcat.stop();
      tomcat.destroy();
    } catch (LifecycleException e) {
      log.warn("stopping Tomcat failed", e);
    }
    if (registry != null) {
      registry.close();
    }
    deleteRecursively(baseDir);
  }

  private static void deleteRecursively(File f) {
    File[] children = f.listFiles();
    if (children != null) {
      for (File c : children) {
        deleteRecursively(c);
      }
    }
    if (!f.delete()) {
      f.deleteOnExit();
    }
  }
}
