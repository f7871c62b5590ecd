package dev.thinkproxy.servlet;

import jakarta.servlet.http.HttpServlet;
import java.time.Duration;
import java.util.Map;

/**
 * The servlet in an embedded Tomcat 10.1 ({@link TomcatContainer}) with default connector settings, except a 1 s
 * default async timeout so that a stream outliving it takes seconds instead of 30.
 */
class TomcatServletContainerIT extends AbstractServletContainerIT {
  private final TomcatContainer tomcat = new TomcatContainer();

  @Override
  int startContainer(Map<String, HttpServlet> servletsByMount) throws Exception {
    return tomcat.start(servletsByMount);
  }

  @Override
  void stopContainer() throws Exception {
    tomcat.stop();
  }

  @Override
  boolean containerAcceptsEncodedSlash() {
    return false;
  }

  @Override
  int longStreamEvents() {
    return 15;
  }

  @Override
  Duration longStreamInterval() {
    return Duration.ofMillis(200);
  }
}
