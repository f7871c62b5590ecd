package dev.thinkproxy.servlet;

/** The fault-injection suite in an embedded Jetty 12 ee10 ({@link JettyContainer}). */
class FaultInjectionJettyIT extends AbstractFaultInjectionIT {
  @Override
  ServletContainer newContainer() {
    return new JettyContainer();
  }
}
