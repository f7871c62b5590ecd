package dev.thinkproxy.servlet;

import jakarta.servlet.http.HttpServlet;
import java.util.Map;
import org.eclipse.jetty.ee10.servlet.ServletContextHandler;
import org.eclipse.jetty.ee10.servlet.ServletHolder;
import org.eclipse.jetty.http.UriCompliance;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;

/**
 * An embedded Jetty 12 (ee10) with the relaxed URI compliance the servlet's documentation asks for
 * ({@link ChatCompletionProxyServlet#JETTY_URI_COMPLIANCE}: {@code //} and {@code %2F} in paths), and nothing else
 * changed: in particular {@code decodeAmbiguousURIs} stays false, so
 * {@code getPathInfo()} would throw for these URLs.
 */
final class JettyContainer implements ServletContainer {
  private Server server;

  @Override
  public int start(Map<String, HttpServlet> servletsByMount) throws Exception {
    server = new Server();
    HttpConfiguration config = new HttpConfiguration();
    config.setUriCompliance(UriCompliance.from(ChatCompletionProxyServlet.JETTY_URI_COMPLIANCE));
    ServerConnector connector = new ServerConnector(server, new HttpConnectionFactory(config));
    connector.setHost("127.0.0.1");
    connector.setPort(0);
    server.addConnector(connector);
    ServletContextHandler context = new ServletContextHandler();
    context.setContextPath("/");
    for (Map.Entry<String, HttpServlet> e : servletsByMount.entrySet()) {
      ServletHolder holder = new ServletHolder("thinkproxy" + e.getKey().replace('/', '-'), e.getValue());
      holder.setAsyncSupported(true);
      context.addServlet(holder, e.getKey() + "/*");
    }
    server.setHandler(context);
    server.start();
    return connector.getLocalPort();
  }

  @Override
  public void stop() throws Exception {
    server.stop();
  }
}
