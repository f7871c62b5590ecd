package dev.thinkproxy.servlet;

import jakarta.servlet.http.HttpServlet;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.stream.Stream;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

/**
 * An embedded Tomcat 10.1 with default connector settings, except a 1 s default async timeout so that a stream
 * outliving it takes seconds instead of 30.
 */
final class TomcatContainer implements ServletContainer {
  /** Tomcat's webapp loader warns about the proxy's OkHttp threads, which the test (not the webapp) owns. */
  private static final Logger LEAK_WARNINGS = Logger.getLogger("org.apache.catalina.loader.WebappClassLoaderBase");

  private Tomcat tomcat;
  private Path baseDir;

  @Override
  public int start(Map<String, HttpServlet> servletsByMount) throws Exception {
    LEAK_WARNINGS.setLevel(Level.SEVERE);
    baseDir = Files.createTempDirectory("thinkproxy-tomcat");
    tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    tomcat.setPort(0);
    Connector connector = tomcat.getConnector();
    connector.setProperty("address", "127.0.0.1");
    // The container default is 30 s; the servlet must override it for every exchange, whatever it is.
    connector.setAsyncTimeout(1000);
    Context context = tomcat.addContext("", baseDir.toString());
    for (Map.Entry<String, HttpServlet> e : servletsByMount.entrySet()) {
      String name = "thinkproxy" + e.getKey().replace('/', '-');
      Tomcat.addServlet(context, name, e.getValue()).setAsyncSupported(true);
      context.addServletMapping(e.getKey() + "/*", name);
    }
    tomcat.start();
    if (connector.getState() != LifecycleState.STARTED) {
      throw new IllegalStateException("Tomcat connector did not start: " + connector.getState());
    }
    return connector.getLocalPort();
  }

  @Override
  public void stop() throws Exception {
    try {
      tomcat.stop();
      tomcat.destroy();
    } finally {
      deleteRecursively(baseDir);
    }
  }

  private static void deleteRecursively(Path dir) throws IOException {
    if (dir == null || !Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      paths.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
    }
  }
}
