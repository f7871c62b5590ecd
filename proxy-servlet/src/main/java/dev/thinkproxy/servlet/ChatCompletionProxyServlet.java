package dev.thinkproxy.servlet;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ProxyCall;
import dev.thinkproxy.ProxyException;
import dev.thinkproxy.ProxyRequest;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.AsyncEvent;
import jakarta.servlet.AsyncListener;
import jakarta.servlet.ReadListener;
import jakarta.servlet.ServletException;
import jakarta.servlet.ServletInputStream;
import jakarta.servlet.ServletRegistration;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.AbstractMap.SimpleImmutableEntry;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Mounts a {@link ChatCompletionProxy} in any Servlet 6 container: map it at {@code /proxy/*} and clients use
 * {@code http://host/proxy/https://api.provider.com/v1}, or a provider alias such as
 * {@code http://host/proxy/openai/v1}, as their base URL.
 *
 * <p>Either pass a built proxy to the constructor (the caller keeps ownership and closes it), or let the servlet
 * build one from init-params named as in {@link InitParams} (it is closed in {@link #destroy()}). The mount
 * prefix is taken from the servlet's mapping, or from the init-param {@value #MOUNT_PATH}.
 *
 * <p>The servlet is a thin adapter: it reads the body and writes the response with non-blocking servlet I/O, so
 * no thread waits on a client's socket, and hands the request to the proxy. A client reading slower than the
 * upstream sends gets at most {@value #STREAM_BUFFER_BYTES} bytes queued; then the proxy stops reading from the
 * upstream until the client catches up. The upstream URL is taken from the raw {@code getRequestURI()}
 * (containers normalise {@code getPathInfo()}: Tomcat merges {@code //} and resolves {@code ..}, Jetty may
 * throw). The container's async timeout is disabled ({@code setTimeout(0)}); the proxy's own idle timeout
 * governs, so long streams are never cut at the container default of 30 s. A client that disconnects cancels the
 * upstream call.
 *
 * <p>Container settings for the URL forms: Jetty 12 rejects {@code //}, {@code %2F} and raw {@code [ ]} in paths
 * by default; relax it with {@link #JETTY_URI_COMPLIANCE}. Tomcat keeps {@code //} and needs
 * {@code encodedSolidusHandling="passthrough"} and {@code relaxedPathChars="[]|"} on its Connector for the
 * others. The collapsed form {@code https:/host} works everywhere with default settings.
 *
 * <p>Browser apps on other origins can call the proxy when a {@link CorsPolicy} allows them (off by default; the
 * init-params are in {@link InitParams}): preflights are answered by the servlet and never forwarded, and every
 * response to an allowed origin, errors included, carries the CORS headers.
 */
public class ChatCompletionProxyServlet extends HttpServlet {
  /** Init-param overriding the mount prefix, e.g. {@code /proxy}. */
  public static final String MOUNT_PATH = "mount-path";

  /**
   * The Jetty 12 URI compliance that lets every base-URL form reach the servlet: Jetty's default plus, in paths,
   * {@code //} ({@code AMBIGUOUS_EMPTY_SEGMENT}), {@code %2F} ({@code AMBIGUOUS_PATH_SEPARATOR}) and characters
   * such as the raw brackets of an IPv6 literal ({@code ILLEGAL_PATH_CHARACTERS}); the proxy checks the upstream URL
   * itself. In the format Jetty's {@code UriCompliance.from(String)} reads: a string, so that this module needs no
   * Jetty dependency. Embedded:
   *
   * <pre>{@code
   * HttpConfiguration http = new HttpConfiguration();
   * http.setUriCompliance(UriCompliance.from(ChatCompletionProxyServlet.JETTY_URI_COMPLIANCE));
   * }</pre>
   *
   * <p>In a Jetty distribution, set the property {@code jetty.httpConfig.uriCompliance} to the same value in
   * {@code start.d/server.ini}.
   */
  public static final String JETTY_URI_COMPLIANCE =
      "DEFAULT,AMBIGUOUS_EMPTY_SEGMENT,AMBIGUOUS_PATH_SEPARATOR,ILLEGAL_PATH_CHARACTERS";

  private static final long serialVersionUID = 1L;
  /**
   * Bytes of a response queued for a client that reads slower than the upstream sends; beyond them the proxy stops
   * reading from the upstream until the client catches up.
   */
  static final long STREAM_BUFFER_BYTES = 64 * 1024;
  private static final Logger log = LoggerFactory.getLogger(ChatCompletionProxyServlet.class);

  private transient @Nullable ChatCompletionProxy proxy;
  private transient boolean ownsProxy;
  private transient @Nullable CorsPolicy corsPolicy;
  private transient CorsResponder cors;
  /** The configured mount prefix, or null to take it from each request's servlet mapping. */
  private @Nullable String mountPrefix;

  /** A servlet configured from its init-params. */
  public ChatCompletionProxyServlet() {}

  /**
   * A servlet that uses a built proxy, with CORS off.
   *
   * @param proxy the proxy; the caller closes it
   */
  public ChatCompletionProxyServlet(ChatCompletionProxy proxy) {
    this(proxy, CorsPolicy.disabled());
  }

  /**
   * A servlet that uses a built proxy and lets browser apps call it as a CORS policy allows.
   *
   * @param proxy the proxy; the caller closes it
   * @param cors which browser apps may call the proxy
   */
  public ChatCompletionProxyServlet(ChatCompletionProxy proxy, CorsPolicy cors) {
    this.proxy = Objects.requireNonNull(proxy, "proxy");
    this.corsPolicy = Objects.requireNonNull(cors, "cors");
  }

  @Override
  public void init() throws ServletException {
    if (proxy == null) {
      try {
        corsPolicy = InitParams.corsPolicy(this::getInitParameter);
        proxy = InitParams.toBuilder(this::getInitParameter).build();
      } catch (IllegalArgumentException e) {
        throw new ServletException("invalid thinkproxy configuration: " + e.getMessage(), e);
      }
      ownsProxy = true;
    }
    cors = new CorsResponder(corsPolicy, proxy.accessKeyHeader());
    mountPrefix = configuredMountPrefix();
  }

  /**
   * {@return the proxy this servlet forwards to; null until {@link #init()} for a servlet configured from its
   * init-params}
   */
  public @Nullable ChatCompletionProxy proxy() {
    return proxy;
  }

  @Override
  public void destroy() {
    if (ownsProxy && proxy != null) {
      proxy.close();
    }
  }

  @Override
  protected void service(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    if (cors.isPreflight(req)) {
      // Before the key check: a browser sends no custom headers on a preflight.
      cors.answerPreflight(req, resp);
      return;
    }
    cors.addResponseHeaders(req, resp);
    String target = targetPath(req);
    if (target == null) {
      writeError(req, resp, new ProxyException(400, "invalid_request_error", "invalid_target_url",
          "the request path does not start with the proxy's mount path"));
      return;
    }
    try {
      // Before the body is read: a client without a key does not get to upload 32 MiB first.
      proxy.checkAccessKey(req.getHeader(proxy.accessKeyHeader()));
    } catch (ProxyException e) {
      writeError(req, resp, e);
      return;
    }
    long declared = req.getContentLengthLong();
    if (declared > proxy.maxBodyBytes()) {
      writeError(req, resp, new ProxyException(413, "invalid_request_error", "request_too_large",
          "request body exceeds the limit of " + proxy.maxBodyBytes() + " bytes"));
      return;
    }
    AsyncContext async = req.startAsync();
    async.setTimeout(0);
    ServletSink sink = new ServletSink(async, resp, STREAM_BUFFER_BYTES);
    Exchange exchange = new Exchange(req, target, sink);
    async.addListener(exchange);
    sink.listen();
    ServletInputStream in = req.getInputStream();
    in.setReadListener(exchange);
  }

  /** The raw path after context and mount prefix, starting with '/', or null if the request is not under it. */
  private String targetPath(HttpServletRequest req) {
    String uri = req.getRequestURI();
    String prefix = req.getContextPath() + mountPrefix(req);
    if (!uri.startsWith(prefix)) {
      return null;
    }
    String rest = uri.substring(prefix.length());
    return rest.startsWith("/") ? rest : "/" + rest;
  }

  private String mountPrefix(HttpServletRequest req) {
    if (mountPrefix != null) {
      return mountPrefix;
    }
    try {
      return prefixOf(req.getHttpServletMapping().getPattern());
    } catch (RuntimeException e) {
      return "";
    }
  }

  private String configuredMountPrefix() {
    String configured = getInitParameter(MOUNT_PATH);
    if (configured != null) {
      String p = configured.strip();
      return p.endsWith("/") ? p.substring(0, p.length() - 1) : p;
    }
    ServletRegistration registration = getServletContext().getServletRegistration(getServletName());
    if (registration != null) {
      for (String mapping : registration.getMappings()) {
        if (mapping.endsWith("/*")) {
          return prefixOf(mapping);
        }
      }
    }
    return null;
  }

  private static String prefixOf(String pattern) {
    if (pattern == null || pattern.equals("/") || pattern.equals("/*") || pattern.isEmpty()) {
      return "";
    }
    return pattern.endsWith("/*") ? pattern.substring(0, pattern.length() - 2) : pattern;
  }

  private void writeError(HttpServletRequest req, HttpServletResponse resp, ProxyException error) throws IOException {
    proxy.reportRefused(req.getMethod(), req.getRemoteAddr(), error);
    writeJson(resp, error);
  }

  /** Answers with {@code error}'s status and OpenAI-style JSON body, on a response nothing was written to yet. */
  static void writeJson(HttpServletResponse resp, ProxyException error) throws IOException {
    byte[] body = error.toJson();
    resp.setStatus(error.status());
    for (Map.Entry<String, String> h : error.responseHeaders(body.length)) {
      resp.setHeader(h.getKey(), h.getValue());
    }
    resp.getOutputStream().write(body);
  }

  /** Reads the body without blocking, then forwards; cancels the upstream call when the client goes away. */
  private final class Exchange implements ReadListener, AsyncListener {
    private final HttpServletRequest req;
    private final String target;
    private final ByteArrayOutputStream body = new ByteArrayOutputStream();
    private final byte[] buffer = new byte[8192];
    private final ServletSink sink;
    private volatile ProxyCall call;
    private volatile boolean ended;

    Exchange(HttpServletRequest req, String target, ServletSink sink) {
      this.req = req;
      this.target = target;
      this.sink = sink;
    }

    @Override
    public void onDataAvailable() throws IOException {
      ServletInputStream in = req.getInputStream();
      while (in.isReady()) {
        int n = in.read(buffer);
        if (n < 0) {
          return;
        }
        if (body.size() + (long) n > proxy.maxBodyBytes()) {
          refuse(new ProxyException(413, "invalid_request_error", "request_too_large",
              "request body exceeds the limit of " + proxy.maxBodyBytes() + " bytes"));
          return;
        }
        body.write(buffer, 0, n);
      }
    }

    @Override
    public void onAllDataRead() {
      if (sink.isCompleted()) {
        return;
      }
      ProxyRequest.Builder request = ProxyRequest.builder()
          .method(req.getMethod())
          .targetPath(target)
          .query(req.getQueryString())
          .clientAddress(req.getRemoteAddr())
          .body(body.toByteArray());
      for (String name : Collections.list(req.getHeaderNames())) {
        for (String value : Collections.list(req.getHeaders(name))) {
          request.addHeader(name, value);
        }
      }
      call = proxy.forward(request.build(), sink);
      if (ended) {
        call.cancel();
      }
    }

    @Override
    public void onError(Throwable t) {
      if (call != null) {
        // Tomcat reports a failed response write here too, before the async listeners hear of it.
        sink.endedByContainer();
        cancelIfRunning();
        return;
      }
      log.debug("reading the request body failed: {}", t.toString());
      refuse(new ProxyException(400, "invalid_request_error", "request_body_unreadable",
          "the request body could not be read"));
    }

    private void refuse(ProxyException error) {
      if (sink.isCompleted()) {
        return;
      }
      proxy.reportRefused(req.getMethod(), req.getRemoteAddr(), error);
      byte[] json = error.toJson();
      try {
        List<Map.Entry<String, String>> headers = new ArrayList<>(error.responseHeaders(json.length));
        // The rest of the body is not read: the connection cannot carry another request.
        headers.add(new SimpleImmutableEntry<>("Connection", "close"));
        sink.start(error.status(), headers);
        sink.write(json, 0, json.length);
        sink.flush();
      } catch (IOException | IllegalStateException e) {
        log.debug("could not send the error: {}", e.toString());
      }
      sink.complete();
    }

    @Override
    public void onComplete(AsyncEvent event) {
      sink.completedByContainer();
      cancelIfRunning();
    }

    @Override
    public void onTimeout(AsyncEvent event) {
      cancelIfRunning();
    }

    @Override
    public void onError(AsyncEvent event) {
      sink.endedByContainer();
      cancelIfRunning();
    }

    @Override
    public void onStartAsync(AsyncEvent event) {}

    private void cancelIfRunning() {
      ended = true;
      ProxyCall c = call;
      if (c != null && !c.isDone()) {
        c.cancel();
      }
    }
  }
}
