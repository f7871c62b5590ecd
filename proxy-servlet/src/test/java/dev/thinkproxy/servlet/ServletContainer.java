package dev.thinkproxy.servlet;

import jakarta.servlet.http.HttpServlet;
import java.util.Map;

/** An embedded servlet container on 127.0.0.1, shared by the integration suites of each container. */
interface ServletContainer {
  /**
   * Starts the container on 127.0.0.1 with an ephemeral port, each servlet async-supported and mapped at
   * {@code mount + "/*"}.
   *
   * @return the port the container listens on
   */
  int start(Map<String, HttpServlet> servletsByMount) throws Exception;

  void stop() throws Exception;
}
