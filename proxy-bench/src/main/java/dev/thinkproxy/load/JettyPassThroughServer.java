package dev.thinkproxy.load;

import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.util.Set;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Response;
import org.eclipse.jetty.ee10.proxy.AsyncProxyServlet;
import org.eclipse.jetty.ee10.proxy.ProxyServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;

/**
 * The pass-through baseline of {@link PerfRun}: Jetty 12 (ee10) with its {@link ProxyServlet} at {@code /proxy/*},
 * forwarding {@code /proxy/http://host:port/path?query} to {@code http://host:port/path?query} and copying the
 * answer back byte for byte (no rewriting), and {@code GET /healthz}. Listens on 127.0.0.1.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.JettyPassThroughServer --port 8081</pre>
 *
 * <p>Why {@link ProxyServlet} and not {@link AsyncProxyServlet}: an event stream must reach the client event by
 * event, so every upstream content chunk has to be flushed. Both servlets only {@code write} each chunk, and
 * Jetty's response output aggregates writes smaller than its aggregation size (a quarter of the 32 KiB buffer),
 * so without a flush a 200-byte event waits in the buffer until 8 KiB have gathered or the stream ends: with
 * either servlet unchanged, {@code curl -N} against a mock stream with {@code delay_ms=200} shows nothing until
 * the stream ends and then every event at once; with the flush here, one event every 200 ms. In {@link
 * ProxyServlet} the write is blocking and a {@code flush()} after it is one line. In {@link AsyncProxyServlet}
 * the write is non-blocking through a {@code WriteListener} whose state is private, and a flush would be a second
 * asynchronous step that its writer cannot wait for. Reading the upstream stays asynchronous either way (Jetty's
 * {@code HttpClient}); the blocking write and flush hold a thread only while the client's socket buffer is full,
 * which the load client, reading as fast as it can, hardly ever lets happen.
 *
 * <p>Configuration: Jetty's defaults, except the URI compliance ({@code //} in the path, which Jetty rejects as
 * ambiguous by default) and the proxy's HTTP client: {@code maxConnections} (per upstream, default 256) is raised
 * to 20,000, as the benchmark's slow-stream scenario holds 1,000 or 10,000 streams to the one mock upstream and
 * would otherwise queue all but 256, and so is the queue of requests waiting for a connection (default 1,024,
 * beyond which a request fails with 502); {@code timeout} (whole exchange, default 60 s) is 0 (none), as
 * thinkproxy has no total timeout by default either.
 */
public final class JettyPassThroughServer {
  private JettyPassThroughServer() {}

  public static void main(String[] argv) throws Exception {
    Args a;
    try {
      a = Args.parse(argv, Set.of(), Set.of("--port"));
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage() + "\nusage: JettyPassThroughServer --port N");
      System.exit(2);
      return;
    }
    Server server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setUriCompliance(UriCompliance.DEFAULT.with("pass-through",
        UriCompliance.Violation.AMBIGUOUS_EMPTY_SEGMENT, UriCompliance.Violation.AMBIGUOUS_PATH_SEPARATOR));
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(config));
    connector.setHost("127.0.0.1");
    connector.setPort(a.intValue("--port", 8081));
    server.addConnector(connector);

    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    ServletHolder proxy = new ServletHolder("pass-through", new FlushingProxyServlet());
    proxy.setAsyncSupported(true);
    proxy.setInitParameter("maxConnections", "20000");
    proxy.setInitParameter("timeout", "0");
    context.addServlet(proxy, "/proxy/*");
    context.addServlet(new ServletHolder("healthz", new HealthzServlet()), "/healthz");
    server.setHandler(context);
    server.start();
    System.err.println("Jetty pass-through proxy listening on http://127.0.0.1:" + connector.getLocalPort()
        + "/proxy/");
    server.join();
  }

  /** {@link ProxyServlet} with the target taken from the path, and a flush after every content chunk. */
  static final class FlushingProxyServlet extends ProxyServlet {
    private static final String PREFIX = "/proxy/";

    @Override
    protected HttpClient newHttpClient() {
      HttpClient client = super.newHttpClient();
      client.setMaxRequestsQueuedPerDestination(20_000);
      return client;
    }

    @Override
    protected String rewriteTarget(HttpServletRequest request) {
      return target(request.getRequestURI(), request.getQueryString());
    }

    /**
     * The upstream URL of a raw request URI {@code /proxy/http://host:port/path} and its query, or null (404)
     * when the path does not hold an http(s) URL. The raw URI, because the decoded path of the servlet API
     * would merge the {@code //} of the scheme.
     */
    static String target(String requestUri, String query) {
      if (requestUri == null || !requestUri.startsWith(PREFIX)) {
        return null;
      }
      String target = requestUri.substring(PREFIX.length());
      if (!target.startsWith("http://") && !target.startsWith("https://")) {
        return null;
      }
      return query == null ? target : target + "?" + query;
    }

    @Override
    protected void onResponseContent(HttpServletRequest request, HttpServletResponse response,
        Response proxyResponse, byte[] buffer, int offset, int length, Callback callback) {
      try {
        ServletOutputStream out = response.getOutputStream();
        out.write(buffer, offset, length);
        out.flush();
        callback.succeeded();
      } catch (Throwable x) {
        callback.failed(x);
      }
    }
  }
}
