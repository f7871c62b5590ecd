package dev.thinkproxy.load;

import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.TargetPolicy;
import dev.thinkproxy.servlet.ChatCompletionProxyServlet;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;

/**
 * thinkproxy's servlet as an application that embeds it would run it, for {@link PerfRun}: an embedded Tomcat 10.1
 * with {@link ChatCompletionProxyServlet} at {@code /proxy/*} and {@code GET /healthz}, the proxy built with
 * private networks allowed (the mock upstream is on 127.0.0.1) and every other setting at its default. The
 * connector keeps Tomcat's defaults (threads, accept queue, timeouts) except what the URL form
 * {@code /proxy/https://host/...} needs, as in the standalone server (percent-encoded slashes passed through and
 * the relaxed path and query characters), and {@code maxConnections}, raised from 8,192 to 20,000 so that S3 can
 * hold 10,000 streams, as it is for Jetty. Listens on 127.0.0.1.
 *
 * <pre>java -cp proxy-bench/target/benchmarks.jar dev.thinkproxy.load.TomcatServletServer --port 8082</pre>
 */
public final class TomcatServletServer {
  private TomcatServletServer() {}

  public static void main(String[] argv) throws Exception {
    Args a;
    try {
      a = Args.parse(argv, Set.of(), Set.of("--port"));
    } catch (IllegalArgumentException e) {
      System.err.println(e.getMessage() + "\nusage: TomcatServletServer --port N");
      System.exit(2);
      return;
    }
    ChatCompletionProxy proxy = ChatCompletionProxy.builder()
        .targetPolicy(TargetPolicy.builder().allowPrivateNetworks(true).build())
        .build();
    Path baseDir = Files.createTempDirectory("thinkproxy-bench-tomcat");
    baseDir.toFile().deleteOnExit();
    Tomcat tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    Connector connector = new Connector();
    connector.setPort(a.intValue("--port", 8082));
    connector.setProperty("address", "127.0.0.1");
    connector.setEncodedSolidusHandling("passthrough");
    connector.setProperty("relaxedPathChars", "[]|");
    connector.setProperty("relaxedQueryChars", "[]|{}^\\`\"<>");
    // Tomcat's default of 8,192 connections would leave part of S3's 10,000 streams in the accept queue; Jetty's
    // client limits are raised for the same reason.
    connector.setProperty("maxConnections", "20000");
    tomcat.setConnector(connector);

    Context context = tomcat.addContext("", baseDir.toString());
    Tomcat.addServlet(context, "thinkproxy", new ChatCompletionProxyServlet(proxy)).setAsyncSupported(true);
    context.addServletMappingDecoded("/proxy/*", "thinkproxy");
    Tomcat.addServlet(context, "healthz", new HealthzServlet());
    context.addServletMappingDecoded("/healthz", "healthz");
    tomcat.start();
    System.err.println("thinkproxy servlet in Tomcat listening on http://127.0.0.1:" + connector.getLocalPort()
        + "/proxy/");
    tomcat.getServer().await();
  }
}
