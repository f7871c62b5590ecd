package dev.thinkproxy;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import java.io.IOException;
import java.net.Proxy;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import okhttp3.ConnectionPool;
import okhttp3.CookieJar;
import okhttp3.Dispatcher;
import okhttp3.Dns;
import okhttp3.EventListener;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.tls.HandshakeCertificates;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards OpenAI-compatible requests to the provider named in the request path and relays the answer, moving
 * reasoning out of {@code <think>} tags into its own field on the way.
 *
 * <pre>{@code
 * ChatCompletionProxy proxy = ChatCompletionProxy.builder()
 *     .thinkOptions(ThinkOptions.builder().reasoningField("reasoning").build())
 *     .build();
 * ProxyCall call = proxy.forward(
 *     ProxyRequest.builder()
 *         .targetPath("/https://llm.chutes.ai/v1/chat/completions")
 *         .addHeader("Authorization", "Bearer …")
 *         .addHeader("Content-Type", "application/json")
 *         .body(json)
 *         .build(),
 *     mySink);
 * }</pre>
 *
 * <p>For each request, in this order: the upstream URL is resolved from the path ({@code https://host},
 * {@code https:/host} or percent-encoded, with port, path prefix and query; or a {@linkplain ProviderAliases
 * provider alias}, {@code /openai/v1/...}), checked against the {@link TargetPolicy}, and called with the client's
 * credentials and the body byte for byte; the answer is relayed by type: an event stream event by event as it
 * arrives, a JSON chat completion rewritten whole, anything else unchanged. Only chat completions and legacy
 * completions are parsed for reasoning; every other path and method is a plain streaming reverse proxy.
 * {@linkplain Builder#addListener Listeners} hear each exchange's events (access logs, metrics). Upstream errors
 * keep their status, body and rate-limit headers. Failures before the first byte become an OpenAI-style JSON
 * error with a matching status (400, 403, 413, 502, 504); after it, one {@code data: {"error":…}} event ends the
 * stream.
 *
 * <p>Immutable and thread-safe: build one per configuration and share it; it owns one HTTP client, connection
 * pool and dispatcher. {@link #close()} ends the exchanges still running and releases them.
 */
public final class ChatCompletionProxy implements AutoCloseable {
  /** Request header that overrides the mode for one request: {@code split}, {@code wrap}, {@code strip}, {@code off}. */
  public static final String MODE_HEADER = "X-Thinkproxy-Mode";
  /** Request header that says whether the answer starts inside reasoning: {@code true} or {@code false}. */
  public static final String IMPLICIT_OPEN_HEADER = "X-Thinkproxy-Implicit-Open";
  /** The default request header that carries a proxy access key, when keys are configured. */
  public static final String DEFAULT_KEY_HEADER = "X-Thinkproxy-Key";

  private static final Logger log = LoggerFactory.getLogger(ChatCompletionProxy.class);
  private static final Set<String> NO_BODY_METHODS = Set.of("GET", "HEAD", "OPTIONS", "TRACE");

  private final TargetPolicy targetPolicy;
  private final ThinkOptions thinkOptions;
  private final Duration connectTimeout;
  private final Duration firstByteTimeout;
  private final Duration idleTimeout;
  private final Duration totalTimeout;
  private final Duration heartbeatInterval;
  private final long maxBodyBytes;
  private final long maxResponseBufferBytes;
  private final int maxConcurrentRequests;
  private final AccessKeys accessKeys;
  private final ProxyListener listener;
  private final AtomicLong exchangeIds = new AtomicLong();
  private final ProviderAliases providers;
  private final boolean aliasesOnly;
  private final OkHttpClient client;
  private final ExecutorService upstreamThreads;
  private final GuardedSocketFactory sockets;
  private final ScheduledExecutorService timer;
  private final ObjectMapper mapper;
  private final Set<Exchange> active = ConcurrentHashMap.newKeySet();
  private volatile boolean closed;

  private ChatCompletionProxy(Builder b) {
    this.targetPolicy = b.targetPolicy;
    this.thinkOptions = b.thinkOptions;
    this.connectTimeout = b.connectTimeout;
    this.idleTimeout = b.idleTimeout;
    this.firstByteTimeout = b.firstByteTimeout != null ? b.firstByteTimeout : b.idleTimeout;
    this.totalTimeout = b.totalTimeout;
    this.heartbeatInterval = b.heartbeatInterval;
    this.maxBodyBytes = b.maxBodyBytes;
    this.maxResponseBufferBytes = b.maxResponseBufferBytes;
    this.maxConcurrentRequests = b.maxConcurrentRequests;
    this.accessKeys = new AccessKeys(b.accessKeys, b.accessKeyHeader);
    // Always the composite, even for one listener: it keeps a throwing listener from breaking an exchange.
    this.listener = b.listeners.isEmpty() ? ProxyListener.NONE : new CompositeListener(List.copyOf(b.listeners));
    this.providers = b.providers;
    this.aliasesOnly = b.aliasesOnly;
    this.mapper = JsonMapper.builder()
        .nodeFactory(JsonNodeFactory.withExactBigDecimals(true))
        .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
        .build();

    this.upstreamThreads = UpstreamThreads.create(b.virtualThreads);
    this.sockets = new GuardedSocketFactory(targetPolicy);
    Dispatcher dispatcher = new Dispatcher(upstreamThreads);
    // OkHttp's defaults (64 calls, 5 per host) would make the sixth concurrent stream to one provider wait silently.
    dispatcher.setMaxRequests(b.maxConcurrentRequests);
    dispatcher.setMaxRequestsPerHost(b.maxConcurrentRequests);
    OkHttpClient.Builder http = new OkHttpClient.Builder()
        .dispatcher(dispatcher)
        .connectionPool(new ConnectionPool(64, 5, TimeUnit.MINUTES))
        .proxy(Proxy.NO_PROXY)
        .followRedirects(false)
        .followSslRedirects(false)
        // A replayed POST is a second paid completion.
        .retryOnConnectionFailure(false)
        .cookieJar(CookieJar.NO_COOKIES)
        .connectTimeout(connectTimeout)
        // The first-byte, idle and total timeouts are the exchange's own (see tick), measured per phase: OkHttp's
        // read timeout would apply one value to the wait for the headers and to the body alike.
        .readTimeout(Duration.ZERO)
        .writeTimeout(Duration.ZERO)
        .callTimeout(Duration.ZERO)
        .socketFactory(sockets)
        .eventListenerFactory(call -> {
          Exchange exchange = call.request().tag(Exchange.class);
          return exchange == null ? EventListener.NONE : exchange.connectionEvents();
        })
        .dns(targetPolicy.allowPrivateNetworks() ? b.dns : new PolicyDns(targetPolicy, b.dns));
    if (!b.trustedCertificates.isEmpty()) {
      // Hostname verification stays OkHttp's default; the private CAs are trusted in addition to the platform's.
      HandshakeCertificates.Builder trust = new HandshakeCertificates.Builder().addPlatformTrustedCertificates();
      b.trustedCertificates.forEach(trust::addTrustedCertificate);
      HandshakeCertificates certificates = trust.build();
      http.sslSocketFactory(certificates.sslSocketFactory(), certificates.trustManager());
    }
    this.client = http.build();
    this.timer = Executors.newSingleThreadScheduledExecutor(task -> {
      Thread t = new Thread(task, "thinkproxy-timer");
      t.setDaemon(true);
      return t;
    });
    long period = tickPeriodMillis();
    timer.scheduleWithFixedDelay(this::tick, period, period, TimeUnit.MILLISECONDS);
  }

  /**
   * How often running exchanges are checked for timeouts and heartbeats: a quarter of the shortest such setting,
   * so each fires within a quarter of its value, and at most 4 times a second.
   */
  private long tickPeriodMillis() {
    long shortest = 250 * 4;
    for (Duration d : List.of(firstByteTimeout, idleTimeout, totalTimeout, heartbeatInterval)) {
      if (!d.isZero()) {
        shortest = Math.min(shortest, d.toMillis());
      }
    }
    return Math.max(5, shortest / 4);
  }

  private void tick() {
    long now = System.nanoTime();
    for (Exchange e : active) {
      try {
        e.tick(now);
      } catch (RuntimeException ex) {
        log.warn("checking an exchange's timers failed", ex);
      }
    }
  }

  /**
   * Starts configuring a proxy.
   *
   * @return a builder with the defaults
   */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts forwarding {@code request} and returns at once; the response is written to {@code sink} from the
   * proxy's I/O threads. A request the proxy refuses (bad URL, policy, body too large) is answered on the
   * calling thread before this method returns.
   *
   * @param request the client's request
   * @param sink where the response for the client goes
   * @return a handle to cancel the exchange when the client goes away
   */
  public ProxyCall forward(ProxyRequest request, ResponseSink sink) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(sink, "sink");
    ExchangeInfo info = new ExchangeInfo(exchangeIds.incrementAndGet(), request.method(), request.clientAddress());
    listener.exchangeStarted(info);
    Request.Builder upstream;
    Exchange exchange;
    try {
      if (closed) {
        throw ProxyException.shuttingDown();
      }
      accessKeys.check(request.header(accessKeys.header()));
      TargetResolver.Target target = TargetResolver.resolve(request.targetPath(), request.query(), providers, aliasesOnly);
      HttpUrl url = target.url();
      info.target(target.alias(), url.host(), url.encodedPath());
      targetPolicy.checkHost(url.host(), url.port());
      if (request.bodyLength() > maxBodyBytes) {
        throw ProxyException.bodyTooLarge(maxBodyBytes);
      }
      Endpoint endpoint = Endpoint.of(url.encodedPath());
      String method = request.method();
      boolean hasBody = !NO_BODY_METHODS.contains(method);
      RequestFacts facts = hasBody && (endpoint.parsed() || listener != ProxyListener.NONE
          || thinkOptions.implicitOpenModels() != null) ? RequestFacts.of(request.body(), mapper) : RequestFacts.NONE;
      info.request(facts.model(), facts.stream());
      ThinkMode mode = modeFor(request);
      boolean implicitOpen = implicitOpenFor(request, facts.model());
      byte[] bytes = request.body();
      if (endpoint.parsed() && thinkOptions.liftRequestReasoning() && bytes.length > 0) {
        bytes = RequestRewriter.liftReasoning(bytes, thinkOptions, mapper);
      }
      upstream = new Request.Builder()
          .url(url)
          .headers(HeaderRules.toUpstream(request.headers(), accessKeys.enabled() ? accessKeys.header() : null))
          .method(method, hasBody ? RequestBody.create(bytes, null) : null);
      boolean eventStream = endpoint.parsed() && facts.stream();
      exchange = new Exchange(this, sink, new Exchange.Plan(mode, implicitOpen, endpoint, eventStream), info);
    } catch (ProxyException e) {
      // Neither the path nor the query: they may carry credentials (userinfo, ?key=).
      log.debug("refused a {} request: {} {}", request.method(), e.status(), e.code());
      return refuse(info, sink, e);
    } catch (IllegalArgumentException e) {
      return refuse(info, sink, ProxyException.badTarget("the request cannot be forwarded: " + e.getMessage()));
    }
    synchronized (active) {
      if (active.size() >= maxConcurrentRequests) {
        log.debug("refused a {} request: {} concurrent requests running", request.method(), active.size());
        return refuse(info, sink, ProxyException.busy(maxConcurrentRequests));
      }
      active.add(exchange);
    }
    listener.targetResolved(info);
    if (closed) {
      exchange.shutdown();
    }
    exchange.start(client.newCall(upstream.tag(Exchange.class, exchange).build()));
    return exchange;
  }

  /**
   * Tells the {@linkplain Builder#addListener listeners} about a request the embedder refused itself before
   * calling {@link #forward}, such as a missing access key checked before reading the body, so that access logs
   * and metrics count every request. Writes nothing to the client.
   *
   * @param method the request's HTTP method
   * @param clientAddress the client's address, or null
   * @param error what the client was answered
   */
  public void reportRefused(String method, @Nullable String clientAddress, ProxyException error) {
    if (listener == ProxyListener.NONE) {
      return;
    }
    ExchangeInfo info = new ExchangeInfo(exchangeIds.incrementAndGet(), method, clientAddress);
    listener.exchangeStarted(info);
    refused(info, error, error.toJson().length);
  }

  private ProxyCall refuse(ExchangeInfo info, ResponseSink sink, ProxyException error) {
    byte[] body = error.toJson();
    ProxyCall call = answerNow(sink, error, body);
    refused(info, error, body.length);
    return call;
  }

  private void refused(ExchangeInfo info, ProxyException error, int bodyBytes) {
    info.status(error.status());
    info.sent(bodyBytes);
    info.error(error);
    listener.targetRefused(info, error);
    info.end(ExchangeInfo.Outcome.REFUSED);
    listener.finished(info);
  }

  /**
   * Checks a presented proxy access key, for embedders that want to refuse a request before reading its body;
   * {@link #forward} checks it again. Keys are compared in constant time.
   *
   * @param presented the value of the {@link #accessKeyHeader()} header, or null when the request has none
   * @throws ProxyException 401 when keys are configured and {@code presented} matches none of them
   */
  public void checkAccessKey(@Nullable String presented) {
    accessKeys.check(presented);
  }

  /** {@return whether requests must carry a proxy access key} */
  public boolean requiresAccessKey() {
    return accessKeys.enabled();
  }

  /** {@return the request header that carries the proxy access key} */
  public String accessKeyHeader() {
    return accessKeys.header();
  }

  /** {@return the number of exchanges that have started and not finished yet} */
  public int activeExchanges() {
    return active.size();
  }

  /**
   * Waits until no exchange is running or the timeout passes; for graceful shutdown after new requests have
   * stopped arriving.
   *
   * @param timeout the longest wait
   * @return true when no exchange is running
   * @throws InterruptedException when the waiting thread is interrupted
   */
  public boolean awaitIdle(Duration timeout) throws InterruptedException {
    long deadline = System.nanoTime() + timeout.toNanos();
    synchronized (active) {
      while (!active.isEmpty()) {
        long left = deadline - System.nanoTime();
        if (left <= 0) {
          return false;
        }
        active.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
      }
    }
    return true;
  }

  /**
   * Stops the proxy: new requests get 503, running streams end with an error event, and the HTTP client's
   * threads and connections are released. Idempotent.
   */
  @Override
  public void close() {
    closed = true;
    for (Exchange e : active) {
      e.shutdown();
    }
    // The exchanges' threads still write their closing error events; the pool only stops taking new ones.
    upstreamThreads.shutdown();
    timer.shutdownNow();
    client.connectionPool().evictAll();
  }

  /** {@return the provider aliases requests can name} */
  public ProviderAliases providers() {
    return providers;
  }

  /** {@return whether only provider aliases are served, base URLs in the path refused} */
  public boolean aliasesOnly() {
    return aliasesOnly;
  }

  /** {@return the policy that decides which upstreams are allowed} */
  public TargetPolicy targetPolicy() {
    return targetPolicy;
  }

  /** {@return how reasoning is handled} */
  public ThinkOptions thinkOptions() {
    return thinkOptions;
  }

  /** {@return the longest silence accepted from an upstream while reading its response body; zero means none} */
  public Duration idleTimeout() {
    return idleTimeout;
  }

  /** {@return the longest wait for the upstream's response headers after the request was sent; zero means none} */
  public Duration firstByteTimeout() {
    return firstByteTimeout;
  }

  /** {@return the longest a whole exchange may take; zero means none} */
  public Duration totalTimeout() {
    return totalTimeout;
  }

  /** {@return how long an event stream may stay silent before the proxy sends a heartbeat comment; zero: never} */
  public Duration heartbeatInterval() {
    return heartbeatInterval;
  }

  /** {@return how long opening a connection to the upstream may take} */
  public Duration connectTimeout() {
    return connectTimeout;
  }

  /** {@return the largest request body accepted, in bytes} */
  public long maxBodyBytes() {
    return maxBodyBytes;
  }

  /** {@return the most requests handled at once; further ones get 503 with {@code Retry-After}} */
  public int maxConcurrentRequests() {
    return maxConcurrentRequests;
  }

  long maxResponseBufferBytes() {
    return maxResponseBufferBytes;
  }

  ProxyListener listener() {
    return listener;
  }

  ObjectMapper mapper() {
    return mapper;
  }

  GuardedSocketFactory sockets() {
    return sockets;
  }

  ExecutorService upstreamThreads() {
    return upstreamThreads;
  }

  void finished(Exchange exchange) {
    synchronized (active) {
      active.remove(exchange);
      active.notifyAll();
    }
  }

  private ThinkMode modeFor(ProxyRequest request) {
    String header = request.header(MODE_HEADER);
    if (header == null) {
      return thinkOptions.mode();
    }
    try {
      return ThinkMode.parse(header);
    } catch (IllegalArgumentException e) {
      throw new ProxyException(400, "invalid_request_error", "invalid_think_mode",
          MODE_HEADER + " must be one of split, wrap, strip, off");
    }
  }

  private boolean implicitOpenFor(ProxyRequest request, @Nullable String model) {
    String header = request.header(IMPLICIT_OPEN_HEADER);
    if (header != null) {
      switch (header.strip().toLowerCase(Locale.ROOT)) {
        case "true":
          return true;
        case "false":
          return false;
        default:
          throw new ProxyException(400, "invalid_request_error", "invalid_implicit_open",
              IMPLICIT_OPEN_HEADER + " must be true or false");
      }
    }
    return thinkOptions.implicitOpenModels() != null && thinkOptions.implicitOpenFor(model);
  }

  private static ProxyCall answerNow(ResponseSink sink, ProxyException error, byte[] body) {
    boolean ok = false;
    try {
      sink.start(error.status(), error.responseHeaders(body.length));
      sink.write(body, 0, body.length);
      sink.flush();
      ok = true;
    } catch (IOException e) {
      sink.abort(e);
    }
    if (ok) {
      sink.complete();
    }
    return new ProxyCall() {
      @Override
      public void cancel() {}

      @Override
      public boolean isDone() {
        return true;
      }
    };
  }

  /** Builds a {@link ChatCompletionProxy}. */
  public static final class Builder {
    private TargetPolicy targetPolicy = TargetPolicy.defaults();
    private ThinkOptions thinkOptions = ThinkOptions.defaults();
    private Duration connectTimeout = Duration.ofSeconds(10);
    private @Nullable Duration firstByteTimeout;
    private Duration idleTimeout = Duration.ofSeconds(300);
    private Duration totalTimeout = Duration.ZERO;
    private Duration heartbeatInterval = Duration.ofSeconds(15);
    private boolean virtualThreads = true;
    private long maxBodyBytes = 32L * 1024 * 1024;
    private long maxResponseBufferBytes = 32L * 1024 * 1024;
    private int maxConcurrentRequests = 20_000;
    private List<String> accessKeys = List.of();
    private String accessKeyHeader = DEFAULT_KEY_HEADER;
    private List<X509Certificate> trustedCertificates = List.of();
    private Dns dns = Dns.SYSTEM;
    private final List<ProxyListener> listeners = new ArrayList<>();
    private ProviderAliases providers = ProviderAliases.builtIn();
    private boolean aliasesOnly;

    private Builder() {}

    /**
     * The provider aliases a request can name instead of a base URL: {@code /proxy/NAME/v1/...}. Default:
     * {@link ProviderAliases#builtIn()}; {@code builtIn().toBuilder()} overrides or extends it,
     * {@link ProviderAliases#none()} turns aliases off.
     *
     * @param providers the aliases
     * @return this builder
     */
    public Builder providers(ProviderAliases providers) {
      this.providers = Objects.requireNonNull(providers, "providers");
      return this;
    }

    /**
     * Serve only the {@linkplain #providers provider aliases}: a request with a base URL in its path gets 403. Turns
     * the proxy into a closed gateway to the configured providers. Default false.
     *
     * @param aliasesOnly whether base URLs in the path are refused
     * @return this builder
     */
    public Builder aliasesOnly(boolean aliasesOnly) {
      this.aliasesOnly = aliasesOnly;
      return this;
    }

    /**
     * Adds a listener that hears every exchange's events (access logs, metrics); listeners are called in the order
     * added. Default: none.
     *
     * @param listener the listener
     * @return this builder
     */
    public Builder addListener(ProxyListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    /**
     * Which upstreams are allowed. Default: {@link TargetPolicy#defaults()}, public hosts only.
     *
     * @param policy the policy
     * @return this builder
     */
    public Builder targetPolicy(TargetPolicy policy) {
      this.targetPolicy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /**
     * How reasoning is handled. Default: {@link ThinkOptions#defaults()}.
     *
     * @param options the options
     * @return this builder
     */
    public Builder thinkOptions(ThinkOptions options) {
      this.thinkOptions = Objects.requireNonNull(options, "options");
      return this;
    }

    /**
     * How long opening a connection to the upstream may take. Default 10 s.
     *
     * @param timeout the timeout, zero or positive
     * @return this builder
     */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = nonNegative(timeout, "connectTimeout");
      return this;
    }

    /**
     * The longest silence accepted from the upstream between two reads of its response body; zero disables it.
     * A stream that breaks it ends with an error event. There is no cap on the total length of a healthy stream.
     * Default 300 s.
     *
     * @param timeout the timeout, zero or positive
     * @return this builder
     */
    public Builder idleTimeout(Duration timeout) {
      this.idleTimeout = nonNegative(timeout, "idleTimeout");
      return this;
    }

    /**
     * The longest wait, from the request being sent, for the upstream's response headers; zero disables it. A
     * request that breaks it gets 504. Default: the {@linkplain #idleTimeout idle timeout}. A non-streaming
     * request's headers come only when the whole answer is ready, so keep this above the longest generation.
     *
     * @param timeout the timeout, zero or positive
     * @return this builder
     */
    public Builder firstByteTimeout(Duration timeout) {
      this.firstByteTimeout = nonNegative(timeout, "firstByteTimeout");
      return this;
    }

    /**
     * The longest a whole exchange may take, stream included; zero disables it. Before the response started it
     * gives 504, after it an error event ends the stream. Default zero: reasoning streams can run for many
     * minutes, so capping them is the operator's choice.
     *
     * @param timeout the timeout, zero or positive
     * @return this builder
     */
    public Builder totalTimeout(Duration timeout) {
      this.totalTimeout = nonNegative(timeout, "totalTimeout");
      return this;
    }

    /**
     * After this much silence on an event stream the proxy sends the comment {@code : keep-alive} to the client,
     * and one more a second later. It keeps idle-cutting middleboxes (load balancers, CDNs) from closing the
     * stream while a model thinks, and it is how a client that went away is noticed during a silence: only a
     * write can fail, and after a client closes its side, the first write still succeeds and the second fails.
     * A request with {@code "stream": true} whose upstream has not sent its response headers within one interval
     * gets its event stream started by the proxy ({@code 200}, {@code text/event-stream}) so that heartbeats can
     * flow; what goes wrong after that arrives as one error event. Zero disables heartbeats. Default 15 s.
     *
     * @param interval the interval, zero or positive
     * @return this builder
     */
    public Builder heartbeatInterval(Duration interval) {
      this.heartbeatInterval = nonNegative(interval, "heartbeatInterval");
      return this;
    }

    /**
     * Whether upstream responses are read on virtual threads when the runtime has them (Java 21 and later).
     * Reading an upstream blocks a thread per running exchange; virtual threads make that cheap. On Java 17 they
     * are platform threads with a 512 KiB stack. Default true.
     *
     * @param enabled whether to use virtual threads where available
     * @return this builder
     */
    public Builder virtualThreads(boolean enabled) {
      this.virtualThreads = enabled;
      return this;
    }

    /**
     * The largest request body accepted; larger ones get 413 before anything is sent. Default 32 MiB.
     *
     * @param bytes the limit in bytes, zero or positive
     * @return this builder
     */
    public Builder maxBodyBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxBodyBytes must not be negative");
      }
      this.maxBodyBytes = bytes;
      return this;
    }

    /**
     * The largest piece of a response held whole for rewriting: a non-streaming JSON answer, or one event of a
     * stream. A larger one is passed through unchanged as its bytes arrive. Default 32 MiB.
     *
     * @param bytes the limit in bytes, zero or positive
     * @return this builder
     */
    public Builder maxResponseBufferBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxResponseBufferBytes must not be negative");
      }
      this.maxResponseBufferBytes = bytes;
      return this;
    }

    /**
     * The most requests handled at once, streams included; a request beyond it gets 503 with
     * {@code Retry-After: 1} at once instead of waiting. Default 20 000.
     *
     * @param requests the limit, at least 1
     * @return this builder
     */
    public Builder maxConcurrentRequests(int requests) {
      if (requests < 1) {
        throw new IllegalArgumentException("maxConcurrentRequests must be positive");
      }
      this.maxConcurrentRequests = requests;
      return this;
    }

    /**
     * Proxy access keys: when any is set, every request must carry one of them in the
     * {@linkplain #accessKeyHeader(String) key header} or gets 401. The header is never forwarded. Turn this on
     * before exposing the proxy beyond the local machine. Default: none, every request is accepted.
     *
     * @param keys the accepted keys, none blank; empty turns the check off
     * @return this builder
     */
    public Builder accessKeys(Collection<String> keys) {
      List<String> copy = List.copyOf(keys);
      for (String k : copy) {
        if (k.isBlank()) {
          throw new IllegalArgumentException("a proxy key must not be blank");
        }
      }
      this.accessKeys = copy;
      return this;
    }

    /**
     * The request header that carries the proxy access key. Default {@value #DEFAULT_KEY_HEADER}.
     *
     * @param header a header name other than {@code Authorization}
     * @return this builder
     */
    public Builder accessKeyHeader(String header) {
      if (header == null || !HeaderRules.isToken(header) || header.equalsIgnoreCase("authorization")) {
        throw new IllegalArgumentException("the proxy key header must be a header name other than Authorization");
      }
      this.accessKeyHeader = header;
      return this;
    }

    /**
     * CA certificates to trust for upstream TLS in addition to the platform's, for providers behind a private
     * CA. Certificate chains and host names are always verified. Default: the platform's CAs only.
     *
     * @param certificates the CA certificates
     * @return this builder
     */
    public Builder trustedCertificates(Collection<X509Certificate> certificates) {
      this.trustedCertificates = List.copyOf(certificates);
      return this;
    }

    /** The resolver under the policy's checks; for tests. */
    Builder dns(Dns dns) {
      this.dns = Objects.requireNonNull(dns, "dns");
      return this;
    }

    /**
     * Builds the proxy, which starts its timer thread at once; {@link ChatCompletionProxy#close()} ends it.
     *
     * @return the proxy
     * @throws IllegalArgumentException when the settings contradict each other (aliases only, but no aliases)
     */
    public ChatCompletionProxy build() {
      if (aliasesOnly && providers.isEmpty()) {
        throw new IllegalArgumentException("aliases-only needs at least one provider alias: it would refuse every request");
      }
      return new ChatCompletionProxy(this);
    }

    private static Duration nonNegative(@Nullable Duration d, String name) {
      if (d == null || d.isNegative()) {
        throw new IllegalArgumentException(name + " must be zero or positive");
      }
      return d;
    }
  }
}
