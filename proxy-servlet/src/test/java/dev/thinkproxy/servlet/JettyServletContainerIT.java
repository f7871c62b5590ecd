package dev.thinkproxy.servlet;

import jakarta.servlet.http.HttpServlet;
import java.time.Duration;
import java.util.Map;

/**
 * The servlet in an embedded Jetty 12 (ee10, {@link JettyContainer}) with the relaxed URI compliance the servlet's
 * documentation asks for ({@code //} and {@code %2F} in paths), and nothing else changed: in particular
 * {@code decodeAmbiguousURIs} stays false, so {@code getPathInfo()} would throw for these URLs.
 *
 * <p>Jetty's async timeout default (30 s) cannot be lowered from outside the servlet, so the stream that must
 * outlive it runs for ~32 s here ({@code streamOutlastingTheContainerAsyncTimeoutIsNotCut}, the one slow test).
 */
class JettyServletContainerIT extends AbstractServletContainerIT {
  private final JettyContainer jetty = new JettyContainer();

  @Override
  int startContainer(Map<String, HttpServlet> servletsByMount) throws Exception {
    return jetty.start(servletsByMount);
  }

  @Override
  void stopContainer() throws Exception {
    jetty.stop();
  }

  @Override
  boolean containerAcceptsEncodedSlash() {
    return true;
  }

  @Override
  int longStreamEvents() {
    return 32;
  }

  @Override
  Duration longStreamInterval() {
    return Duration.ofSeconds(1);
  }
}
