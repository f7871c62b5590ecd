package dev.thinkproxy.servlet;

/** {@link AbstractApiSurfaceIT} in an embedded Tomcat 10.1. */
class TomcatApiSurfaceIT extends AbstractApiSurfaceIT {
  TomcatApiSurfaceIT() {
    super(new TomcatContainer());
  }
}
