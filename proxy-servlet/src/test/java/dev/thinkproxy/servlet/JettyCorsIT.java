package dev.thinkproxy.servlet;

/** The CORS suite in an embedded Jetty 12 ({@link JettyContainer}). */
class JettyCorsIT extends AbstractCorsIT {
  @Override
  ServletContainer newContainer() {
    return new JettyContainer();
  }
}
