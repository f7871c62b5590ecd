package dev.thinkproxy.servlet;

import dev.thinkproxy.AccessLogListener;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ProviderAliases;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.ThinkMode;
import dev.thinkproxy.ThinkOptions;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;

/**
 * The configuration names shared by servlet init-params and the standalone server's flags ({@code --NAME}) and
 * environment variables ({@code THINKPROXY_NAME} in upper snake case), mapped onto one
 * {@link ChatCompletionProxy.Builder}.
 *
 * <table>
 *   <caption>Settings</caption>
 *   <tr><th>name</th><th>value</th><th>default</th></tr>
 *   <tr><td>{@value #ALLOW_PRIVATE_NETWORKS}</td><td>true/false</td><td>false</td></tr>
 *   <tr><td>{@value #ALLOW_HOST}</td><td>comma-separated {@code host}, {@code host:port}, {@code *.domain}, IP</td><td>none (any public host)</td></tr>
 *   <tr><td>{@value #THINK_MODE}</td><td>split, wrap, strip, off</td><td>split</td></tr>
 *   <tr><td>{@value #REASONING_FIELD}</td><td>reasoning_content, reasoning</td><td>reasoning_content</td></tr>
 *   <tr><td>{@value #THINK_TAGS}</td><td>comma-separated names or {@code OPEN|CLOSE} pairs</td><td>think</td></tr>
 *   <tr><td>{@value #THINK_ANYWHERE}</td><td>true/false: extract blocks anywhere, not only leading</td><td>false</td></tr>
 *   <tr><td>{@value #THINK_KEEP_WHITESPACE}</td><td>true/false: keep whitespace around tags byte-exact</td><td>false</td></tr>
 *   <tr><td>{@value #IMPLICIT_OPEN_MODELS}</td><td>regex of models whose output starts inside reasoning</td><td>none</td></tr>
 *   <tr><td>{@value #LIFT_REQUEST_REASONING}</td><td>true/false: move a leading think block of assistant messages in the request into {@code reasoning_content}</td><td>false</td></tr>
 *   <tr><td>{@value #IDLE_TIMEOUT}</td><td>duration ({@code 300s}, {@code 5m}, {@code 0} = none): longest silence between reads of the upstream's body</td><td>300s</td></tr>
 *   <tr><td>{@value #FIRST_BYTE_TIMEOUT}</td><td>duration: longest wait for the upstream's response headers</td><td>the idle timeout</td></tr>
 *   <tr><td>{@value #TOTAL_TIMEOUT}</td><td>duration: longest whole exchange</td><td>0 (none)</td></tr>
 *   <tr><td>{@value #CONNECT_TIMEOUT}</td><td>duration</td><td>10s</td></tr>
 *   <tr><td>{@value #HEARTBEAT_INTERVAL}</td><td>duration: silence on an event stream before a {@code : keep-alive} comment</td><td>15s</td></tr>
 *   <tr><td>{@value #MAX_BODY_BYTES}</td><td>bytes</td><td>33554432 (32 MiB)</td></tr>
 *   <tr><td>{@value #MAX_RESPONSE_BUFFER_BYTES}</td><td>bytes: largest non-streaming JSON answer rewritten (a larger one passes unchanged)</td><td>33554432 (32 MiB)</td></tr>
 *   <tr><td>{@value #MAX_CONCURRENT_REQUESTS}</td><td>number: requests beyond it get 503 with {@code Retry-After}</td><td>20000</td></tr>
 *   <tr><td>{@value #PROXY_KEY}</td><td>comma-separated proxy access keys; when set, requests without one get 401</td><td>none</td></tr>
 *   <tr><td>{@value #PROXY_KEY_FILE}</td><td>file with one proxy access key per line ({@code #} comments)</td><td>none</td></tr>
 *   <tr><td>{@value #PROXY_KEY_HEADER}</td><td>header carrying the proxy key</td><td>X-Thinkproxy-Key</td></tr>
 *   <tr><td>{@value #CA_FILE}</td><td>comma-separated PEM files of CA certificates trusted for upstream TLS in addition to the platform's</td><td>none</td></tr>
 *   <tr><td>{@value #PROVIDER}</td><td>comma-separated {@code NAME=URL} provider aliases ({@code /proxy/NAME/v1/...} goes to {@code URL/...}); a built-in name is replaced, {@code NAME=} removes it</td><td>the built-in set ({@link ProviderAliases})</td></tr>
 *   <tr><td>{@value #NO_BUILTIN_PROVIDERS}</td><td>true/false: start from no aliases, only those of {@value #PROVIDER}</td><td>false</td></tr>
 *   <tr><td>{@value #ALIASES_ONLY}</td><td>true/false: refuse base URLs in the path (403), serve only aliases</td><td>false</td></tr>
 *   <tr><td>{@value #CORS_ORIGIN}</td><td>comma-separated origins ({@code https://chat.example.com}) whose browser apps may call the proxy, or {@code *}; read by {@link #corsPolicy}</td><td>none (CORS off)</td></tr>
 *   <tr><td>{@value #CORS_ALLOW_CREDENTIALS}</td><td>true/false: {@code Access-Control-Allow-Credentials: true}; not with {@code *}</td><td>false</td></tr>
 *   <tr><td>{@value #CORS_MAX_AGE}</td><td>duration: how long browsers may cache a preflight answer</td><td>600s</td></tr>
 *   <tr><td>{@value #ACCESS_LOG}</td><td>true/false: one line per exchange at INFO on the logger {@code dev.thinkproxy.access} ({@link AccessLogListener})</td><td>false</td></tr>
 * </table>
 */
public final class InitParams {
  /** Permit loopback, private and link-local upstreams. */
  public static final String ALLOW_PRIVATE_NETWORKS = "allow-private-networks";
  /** Allow-host patterns. */
  public static final String ALLOW_HOST = "allow-host";
  /** The think mode. */
  public static final String THINK_MODE = "think-mode";
  /** The reasoning output field. */
  public static final String REASONING_FIELD = "reasoning-field";
  /** The think tags. */
  public static final String THINK_TAGS = "think-tags";
  /** Extract blocks anywhere in the answer. */
  public static final String THINK_ANYWHERE = "think-anywhere";
  /** Keep whitespace around tags. */
  public static final String THINK_KEEP_WHITESPACE = "think-keep-whitespace";
  /** Models whose output starts inside reasoning. */
  public static final String IMPLICIT_OPEN_MODELS = "implicit-open-models";
  /** Lift think blocks of the request history into {@code reasoning_content}. */
  public static final String LIFT_REQUEST_REASONING = "lift-request-reasoning";
  /** Longest upstream silence. */
  public static final String IDLE_TIMEOUT = "idle-timeout";
  /** Longest wait for the upstream's response headers. */
  public static final String FIRST_BYTE_TIMEOUT = "first-byte-timeout";
  /** Longest whole exchange. */
  public static final String TOTAL_TIMEOUT = "total-timeout";
  /** Upstream connect timeout. */
  public static final String CONNECT_TIMEOUT = "connect-timeout";
  /** Silence on an event stream before a heartbeat comment. */
  public static final String HEARTBEAT_INTERVAL = "heartbeat-interval";

  /** Largest request body. */
  public static final String MAX_BODY_BYTES = "max-body-bytes";

  /** Largest non-streaming answer rewritten. */
  public static final String MAX_RESPONSE_BUFFER_BYTES = "max-response-buffer-bytes";
  /** Most requests at once. */
  public static final String MAX_CONCURRENT_REQUESTS = "max-concurrent-requests";
  /** Proxy access keys. */
  public static final String PROXY_KEY = "proxy-key";
  /** A file of proxy access keys. */
  public static final String PROXY_KEY_FILE = "proxy-key-file";
  /** The header carrying the proxy access key. */
  public static final String PROXY_KEY_HEADER = "proxy-key-header";
  /** PEM files of extra trusted CA certificates. */
  public static final String CA_FILE = "ca-file";
  /** Provider aliases {@code NAME=URL}, added to or replacing the built-in ones; {@code NAME=} removes one. */
  public static final String PROVIDER = "provider";
  /** Start from no aliases instead of the built-in set. */
  public static final String NO_BUILTIN_PROVIDERS = "no-builtin-providers";
  /** Refuse base URLs in the path: serve only provider aliases. */
  public static final String ALIASES_ONLY = "aliases-only";
  /** Origins whose browser apps may call the proxy. */
  public static final String CORS_ORIGIN = "cors-origin";
  /** Let browsers send credentials with cross-origin requests. */
  public static final String CORS_ALLOW_CREDENTIALS = "cors-allow-credentials";
  /** How long browsers may cache a preflight answer. */
  public static final String CORS_MAX_AGE = "cors-max-age";
  /** Log one line per exchange. */
  public static final String ACCESS_LOG = "access-log";

  /** Every name this class reads. */
  public static final List<String> NAMES = List.of(
      ALLOW_PRIVATE_NETWORKS, ALLOW_HOST, THINK_MODE, REASONING_FIELD, THINK_TAGS, THINK_ANYWHERE,
      THINK_KEEP_WHITESPACE, IMPLICIT_OPEN_MODELS, LIFT_REQUEST_REASONING, IDLE_TIMEOUT, FIRST_BYTE_TIMEOUT,
      TOTAL_TIMEOUT, CONNECT_TIMEOUT, HEARTBEAT_INTERVAL, MAX_BODY_BYTES, MAX_RESPONSE_BUFFER_BYTES, MAX_CONCURRENT_REQUESTS, PROXY_KEY, PROXY_KEY_FILE, PROXY_KEY_HEADER, CA_FILE,
      PROVIDER, NO_BUILTIN_PROVIDERS, ALIASES_ONLY,
      CORS_ORIGIN, CORS_ALLOW_CREDENTIALS, CORS_MAX_AGE,
      ACCESS_LOG);

  private static final Pattern DURATION = Pattern.compile("(\\d+)\\s*(ms|s|m|h)?");

  private InitParams() {}

  /**
   * A proxy builder configured from named settings, to build as it is or to adjust first.
   *
   * @param settings the value of each setting by name ({@link #NAMES}), e.g. {@code getInitParameter}; null keeps
   *     the setting's default
   * @return a builder with the settings applied
   * @throws IllegalArgumentException naming the setting whose value is invalid
   */
  public static ChatCompletionProxy.Builder toBuilder(Function<String, @Nullable String> settings) {
    TargetPolicy.Builder policy = TargetPolicy.builder();
    ThinkOptions.Builder think = ThinkOptions.builder();
    ChatCompletionProxy.Builder proxy = ChatCompletionProxy.builder();
    String v;
    if ((v = get(settings, ALLOW_PRIVATE_NETWORKS)) != null) {
      policy.allowPrivateNetworks(parseBoolean(ALLOW_PRIVATE_NETWORKS, v));
    }
    if ((v = get(settings, ALLOW_HOST)) != null) {
      list(v).forEach(policy::allowHost);
    }
    try {
      if ((v = get(settings, THINK_MODE)) != null) {
        think.mode(ThinkMode.parse(v));
      }
      if ((v = get(settings, REASONING_FIELD)) != null) {
        think.reasoningField(v.strip());
      }
      if ((v = get(settings, THINK_TAGS)) != null) {
        think.tags(v);
      }
      if ((v = get(settings, IMPLICIT_OPEN_MODELS)) != null) {
        think.implicitOpenModels(v);
      }
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("invalid think setting: " + e.getMessage(), e);
    }
    if ((v = get(settings, THINK_ANYWHERE)) != null) {
      think.anywhere(parseBoolean(THINK_ANYWHERE, v));
    }
    if ((v = get(settings, THINK_KEEP_WHITESPACE)) != null) {
      think.keepWhitespace(parseBoolean(THINK_KEEP_WHITESPACE, v));
    }
    if ((v = get(settings, LIFT_REQUEST_REASONING)) != null) {
      think.liftRequestReasoning(parseBoolean(LIFT_REQUEST_REASONING, v));
    }
    if ((v = get(settings, IDLE_TIMEOUT)) != null) {
      proxy.idleTimeout(parseDuration(IDLE_TIMEOUT, v));
    }
    if ((v = get(settings, FIRST_BYTE_TIMEOUT)) != null) {
      proxy.firstByteTimeout(parseDuration(FIRST_BYTE_TIMEOUT, v));
    }
    if ((v = get(settings, TOTAL_TIMEOUT)) != null) {
      proxy.totalTimeout(parseDuration(TOTAL_TIMEOUT, v));
    }
    if ((v = get(settings, CONNECT_TIMEOUT)) != null) {
      proxy.connectTimeout(parseDuration(CONNECT_TIMEOUT, v));
    }
    if ((v = get(settings, HEARTBEAT_INTERVAL)) != null) {
      proxy.heartbeatInterval(parseDuration(HEARTBEAT_INTERVAL, v));
    }
    if ((v = get(settings, MAX_BODY_BYTES)) != null) {
      proxy.maxBodyBytes(parseNumber(MAX_BODY_BYTES, v));
    }
    if ((v = get(settings, MAX_RESPONSE_BUFFER_BYTES)) != null) {
      proxy.maxResponseBufferBytes(parseNumber(MAX_RESPONSE_BUFFER_BYTES, v));
    }
    if ((v = get(settings, MAX_CONCURRENT_REQUESTS)) != null) {
      long n = parseNumber(MAX_CONCURRENT_REQUESTS, v);
      if (n < 1 || n > Integer.MAX_VALUE) {
        throw new IllegalArgumentException(MAX_CONCURRENT_REQUESTS + " must be a positive number: " + v);
      }
      proxy.maxConcurrentRequests((int) n);
    }
    List<String> keys = new ArrayList<>();
    if ((v = get(settings, PROXY_KEY)) != null) {
      keys.addAll(list(v));
    }
    if ((v = get(settings, PROXY_KEY_FILE)) != null && !v.isBlank()) {
      keys.addAll(readKeys(v.strip()));
    }
    proxy.accessKeys(keys);
    if ((v = get(settings, PROXY_KEY_HEADER)) != null && !v.isBlank()) {
      try {
        proxy.accessKeyHeader(v.strip());
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(PROXY_KEY_HEADER + ": " + e.getMessage(), e);
      }
    }
    if ((v = get(settings, CA_FILE)) != null) {
      List<X509Certificate> certificates = new ArrayList<>();
      for (String file : list(v)) {
        certificates.addAll(readCertificates(file));
      }
      proxy.trustedCertificates(certificates);
    }
    ProviderAliases.Builder providers = (v = get(settings, NO_BUILTIN_PROVIDERS)) != null
        && parseBoolean(NO_BUILTIN_PROVIDERS, v) ? ProviderAliases.builder() : ProviderAliases.builtIn().toBuilder();
    if ((v = get(settings, PROVIDER)) != null) {
      for (String entry : list(v)) {
        defineProvider(providers, entry);
      }
    }
    proxy.providers(providers.build());
    if ((v = get(settings, ALIASES_ONLY)) != null) {
      proxy.aliasesOnly(parseBoolean(ALIASES_ONLY, v));
    }
    if ((v = get(settings, ACCESS_LOG)) != null && parseBoolean(ACCESS_LOG, v)) {
      proxy.addListener(new AccessLogListener());
    }
    return proxy.targetPolicy(policy.build()).thinkOptions(think.build());
  }

  /** {@code NAME=URL} adds or replaces an alias, {@code NAME=} removes one. */
  private static void defineProvider(ProviderAliases.Builder providers, String entry) {
    int eq = entry.indexOf('=');
    if (eq <= 0) {
      throw new IllegalArgumentException(PROVIDER + " must be NAME=URL, e.g. local=http://10.0.0.5:8000/v1: " + entry);
    }
    String name = entry.substring(0, eq).strip();
    String url = entry.substring(eq + 1).strip();
    try {
      if (url.isEmpty()) {
        providers.remove(name);
      } else {
        providers.put(name, url);
      }
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(PROVIDER + ": " + e.getMessage(), e);
    }
  }

  /**
   * The CORS policy configured by {@value #CORS_ORIGIN}, {@value #CORS_ALLOW_CREDENTIALS} and
   * {@value #CORS_MAX_AGE}; {@link CorsPolicy#disabled()} when no origin is set.
   *
   * @param settings the value of each setting by name, as for {@link #toBuilder}
   * @return the policy
   * @throws IllegalArgumentException naming the setting whose value is invalid, or both settings when
   *     {@code *} is combined with credentials
   */
  public static CorsPolicy corsPolicy(Function<String, @Nullable String> settings) {
    CorsPolicy.Builder cors = CorsPolicy.builder();
    String v;
    if ((v = get(settings, CORS_ORIGIN)) != null) {
      try {
        list(v).forEach(cors::allowOrigin);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(CORS_ORIGIN + ": " + e.getMessage(), e);
      }
    }
    if ((v = get(settings, CORS_ALLOW_CREDENTIALS)) != null) {
      cors.allowCredentials(parseBoolean(CORS_ALLOW_CREDENTIALS, v));
    }
    if ((v = get(settings, CORS_MAX_AGE)) != null) {
      Duration maxAge = parseDuration(CORS_MAX_AGE, v);
      try {
        cors.maxAge(maxAge);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(CORS_MAX_AGE + ": " + e.getMessage(), e);
      }
    }
    try {
      return cors.build();
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(CORS_ORIGIN + "=* with " + CORS_ALLOW_CREDENTIALS + ": " + e.getMessage(), e);
    }
  }

  /**
   * Parses a duration: a number with an optional unit {@code ms}, {@code s} (default), {@code m}, {@code h}, or
   * ISO-8601 ({@code PT5M}). {@code 0} means none.
   *
   * @param name the setting's name, for the error message
   * @param value the text to parse
   * @return the duration
   * @throws IllegalArgumentException naming the setting when {@code value} is not a duration
   */
  public static Duration parseDuration(String name, String value) {
    String s = value.strip().toLowerCase(Locale.ROOT);
    Matcher m = DURATION.matcher(s);
    if (m.matches()) {
      long n = Long.parseLong(m.group(1));
      String unit = m.group(2) == null ? "s" : m.group(2);
      switch (unit) {
        case "ms":
          return Duration.ofMillis(n);
        case "m":
          return Duration.ofMinutes(n);
        case "h":
          return Duration.ofHours(n);
        default:
          return Duration.ofSeconds(n);
      }
    }
    try {
      return Duration.parse(value.strip().toUpperCase(Locale.ROOT));
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException(name + " must be a duration such as 300s, 5m or 500ms: " + value, e);
    }
  }

  private static long parseNumber(String name, String value) {
    try {
      long n = Long.parseLong(value.strip());
      if (n < 0) {
        throw new NumberFormatException();
      }
      return n;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a number: " + value, e);
    }
  }

  private static List<String> list(String value) {
    List<String> out = new ArrayList<>();
    for (String entry : value.split(",")) {
      if (!entry.isBlank()) {
        out.add(entry.strip());
      }
    }
    return out;
  }

  /** One key per line; blank lines and lines starting with {@code #} are skipped. */
  private static List<String> readKeys(String file) {
    try {
      List<String> keys = new ArrayList<>();
      for (String line : Files.readAllLines(Path.of(file), StandardCharsets.UTF_8)) {
        String key = line.strip();
        if (!key.isEmpty() && !key.startsWith("#")) {
          keys.add(key);
        }
      }
      if (keys.isEmpty()) {
        throw new IllegalArgumentException(PROXY_KEY_FILE + " " + file + " has no keys");
      }
      return keys;
    } catch (IOException e) {
      throw new IllegalArgumentException(PROXY_KEY_FILE + " " + file + " cannot be read: " + e.getMessage(), e);
    }
  }

  private static List<X509Certificate> readCertificates(String file) {
    try (InputStream in = Files.newInputStream(Path.of(file))) {
      List<X509Certificate> out = new ArrayList<>();
      for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
        out.add((X509Certificate) c);
      }
      if (out.isEmpty()) {
        throw new IllegalArgumentException(CA_FILE + " " + file + " has no certificates");
      }
      return out;
    } catch (IOException | CertificateException e) {
      throw new IllegalArgumentException(CA_FILE + " " + file + " is not a PEM certificate file: " + e.getMessage(), e);
    }
  }

  private static boolean parseBoolean(String name, String value) {
    switch (value.strip().toLowerCase(Locale.ROOT)) {
      case "true":
      case "yes":
      case "1":
      case "":
        return true;
      case "false":
      case "no":
      case "0":
        return false;
      default:
        throw new IllegalArgumentException(name + " must be true or false: " + value);
    }
  }

  private static @Nullable String get(Function<String, @Nullable String> settings, String name) {
    return settings.apply(name);
  }
}
