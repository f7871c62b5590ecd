package dev.thinkproxy.servlet;

/** The fault-injection suite in an embedded Tomcat 10.1 ({@link TomcatContainer}). */
class FaultInjectionTomcatIT extends AbstractFaultInjectionIT {
  @Override
  ServletContainer newContainer() {
    return new TomcatContainer();
  }
}
