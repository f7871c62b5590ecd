package dev.thinkproxy.servlet;

/** The CORS suite in an embedded Tomcat 10.1 ({@link TomcatContainer}). */
class TomcatCorsIT extends AbstractCorsIT {
  @Override
  ServletContainer newContainer() {
    return new TomcatContainer();
  }
}
