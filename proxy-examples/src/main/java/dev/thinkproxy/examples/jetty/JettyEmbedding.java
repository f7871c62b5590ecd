package dev.thinkproxy.examples.jetty;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.servlet.ChatCompletionProxyServlet;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * {@link ChatCompletionProxyServlet} in an embedded Jetty 12 (ee10) at {@code /proxy/*}: clients use
 * {@code http://HOST:PORT/proxy/https://api.provider.com/v1} as their base URL.
 *
 * <p>The one Jetty setting the proxy needs is the URI compliance: Jetty answers 400 to {@code //} and {@code %2F}
 * in a path by default, which are how the {@code https://host} and percent-encoded base-URL forms arrive.
 * {@link ChatCompletionProxyServlet#JETTY_URI_COMPLIANCE} allows exactly these two.
 *
 * <p>Jetty's classes are not part of the standalone server: an application that uses this example depends on
 * {@code org.eclipse.jetty.ee10:jetty-ee10-servlet} 12.x itself.
 */
public final class JettyEmbedding implements AutoCloseable {
  private final Server server;
  private final ServerConnector connector;

  private JettyEmbedding(Server server, ServerConnector connector) {
    this.server = server;
    this.connector = connector;
  }

  /**
   * Starts Jetty with the proxy mounted at {@code /proxy/*}.
   *
   * @param host the address to listen on, e.g. {@code 127.0.0.1}
   * @param port the port, or 0 for a free one
   * @param proxy the proxy to serve; the caller keeps it and closes it after {@link #close()}
   * @return the running server
   * @throws Exception when Jetty does not start (for example, the port is taken)
   */
  public static JettyEmbedding start(String host, int port, ChatCompletionProxy proxy) throws Exception {
    Server server = new Server();
    HttpConfiguration http = new HttpConfiguration();
    http.setUriCompliance(UriCompliance.from(ChatCompletionProxyServlet.JETTY_URI_COMPLIANCE));
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(http));
    connector.setHost(host);
    connector.setPort(port);
    server.addConnector(connector);

    ServletContextHandler context = new ServletContextHandler();
    ServletHolder thinkproxy = new ServletHolder("thinkproxy", new ChatCompletionProxyServlet(proxy));
    thinkproxy.setAsyncSupported(true);
    context.addServlet(thinkproxy, "/proxy/*");
    server.setHandler(context);
    try {
      server.start();
    } catch (Exception e) {
      server.stop();
      throw e;
    }
    return new JettyEmbedding(server, connector);
  }

  /** The port Jetty listens on. */
  public int port() {
    return connector.getLocalPort();
  }

  /** Stops Jetty; running streams are cut. */
  @Override
  public void close() throws Exception {
    server.stop();
  }
}
