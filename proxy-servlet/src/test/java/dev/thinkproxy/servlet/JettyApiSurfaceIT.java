package dev.thinkproxy.servlet;

/** {@link AbstractApiSurfaceIT} in an embedded Jetty 12 (ee10). */
class JettyApiSurfaceIT extends AbstractApiSurfaceIT {
  JettyApiSurfaceIT() {
    super(new JettyContainer());
  }
}
