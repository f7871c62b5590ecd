package dev.thinkproxy.examples;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.servlet.ChatCompletionProxyServlet;
import dev.thinkproxy.servlet.InitParams;
import jakarta.servlet.Servlet;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.xml.parsers.DocumentBuilderFactory;
import javax.xml.transform.TransformerFactory;
import javax.xml.transform.dom.DOMSource;
import javax.xml.transform.stream.StreamResult;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.tls.HandshakeCertificates;
import okio.Buffer;
import org.apache.catalina.Context;
import org.apache.catalina.LifecycleState;
import org.apache.catalina.Wrapper;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.IntrospectionUtils;
import org.apache.tomcat.util.scan.StandardJarScanner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.slf4j.LoggerFactory;
import org.slf4j.simple.SimpleLogger;
import org.w3c.dom.Document;
import org.w3c.dom.Element;

/**
 * The example {@code src/main/webapp/WEB-INF/web.xml} deployed as a WAR in an embedded Tomcat, the way a Tomcat
 * installation deploys {@code webapps/thinkproxy.war}: the test builds the WAR (the web.xml, plus proxy-servlet and
 * its runtime dependencies in {@code WEB-INF/lib}), and the Connector has the attributes the README's
 * {@code server.xml} snippet gives it.
 *
 * <p>What differs from a Tomcat installation, and why it does not matter here: the web.xml gets one init-param more,
 * {@code allow-host} for the upstream's port (the example leaves it commented out); the webapp's parent class
 * loader offers only Tomcat's and the Servlet API's classes, as Tomcat's common loader does, so that the proxy can
 * only come from {@code WEB-INF/lib}; Tomcat's global {@code conf/web.xml} (its default and JSP servlets) is left out,
 * as the embedded artifact has no JSP engine; and the test JVM's class path, which is not Tomcat's, is not scanned.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class TomcatWarIT {
  static final Path WEB_XML = Path.of("src/main/webapp/WEB-INF/web.xml");
  /** The Connector attributes of the README's server.xml snippet, set as Tomcat sets server.xml attributes. */
  static final Map<String, String> CONNECTOR_ATTRIBUTES =
      Map.of("encodedSolidusHandling", "passthrough", "relaxedPathChars", "[]|");
  static final String CONTEXT_PATH = "/thinkproxy";
  /**
   * One class from each jar a WAR of proxy-servlet holds in {@code WEB-INF/lib}: proxy-servlet, its runtime
   * dependencies ({@code mvn dependency:tree -pl proxy-servlet}) and an SLF4J binding.
   */
  static final List<Class<?>> WEB_INF_LIB = List.of(ChatCompletionProxyServlet.class, ChatCompletionProxy.class,
      OkHttpClient.class, HandshakeCertificates.class, Buffer.class, kotlin.Unit.class, ObjectMapper.class,
      JsonFactory.class, JsonProperty.class, LoggerFactory.class, SimpleLogger.class);
  private static final String REQUEST_BODY =
      "{\"model\":\"test-model\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";

  private MockWebServer upstream;
  private Path baseDir;
  private Tomcat tomcat;
  private Context webapp;
  private int port;

  @BeforeAll
  void deploy() throws Exception {
    upstream = new MockWebServer();
    upstream.start(InetAddress.getByName("127.0.0.1"), 0);
    baseDir = Files.createTempDirectory("thinkproxy-war");
    Path war = baseDir.resolve("thinkproxy.war");
    writeWar(war, webXmlAllowing("127.0.0.1:" + upstream.getPort()));
    Files.createDirectories(baseDir.resolve("webapps"));

    tomcat = new Tomcat();
    tomcat.setBaseDir(baseDir.toString());
    Connector connector = new Connector("HTTP/1.1");
    connector.setPort(0);
    connector.setProperty("address", "127.0.0.1");
    CONNECTOR_ATTRIBUTES.forEach((name, value) ->
        assertThat(IntrospectionUtils.setProperty(connector, name, value)).as("Connector attribute %s", name).isTrue());
    tomcat.setConnector(connector);
    tomcat.setAddDefaultWebXmlToWebapp(false);
    webapp = tomcat.addWebapp(CONTEXT_PATH, war.toString());
    webapp.setParentClassLoader(new ContainerOnlyClassLoader(TomcatWarIT.class.getClassLoader()));
    ((StandardJarScanner) webapp.getJarScanner()).setScanClassPath(false);
    tomcat.start();
    assertThat(webapp.getState()).as("the webapp started").isEqualTo(LifecycleState.STARTED);
    port = connector.getLocalPort();
  }

  @AfterAll
  void undeploy() throws Exception {
    try {
      tomcat.stop();
      tomcat.destroy();
      upstream.close();
    } finally {
      try (Stream<Path> files = Files.walk(baseDir)) {
        files.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
      }
    }
  }

  @Test
  void theExampleNamesEverySetting() throws IOException {
    Set<String> named = new LinkedHashSet<>();
    Matcher m = Pattern.compile("<param-name>([^<]+)</param-name>").matcher(Files.readString(WEB_XML));
    while (m.find()) {
      named.add(m.group(1));
    }

    assertThat(named).containsAll(InitParams.NAMES).contains(ChatCompletionProxyServlet.MOUNT_PATH);
  }

  @Test
  void theServletComesFromTheWarsLibraries() throws Exception {
    Servlet servlet = ((Wrapper) webapp.findChild("thinkproxy")).getServlet();

    assertThat(servlet.getClass().getName()).isEqualTo(ChatCompletionProxyServlet.class.getName());
    assertThat(servlet.getClass().getClassLoader()).isSameAs(webapp.getLoader().getClassLoader());
    assertThat(servlet.getClass().getProtectionDomain().getCodeSource().getLocation().getPath())
        .contains("/WEB-INF/lib/");
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"http://", "http:/", "http%3A%2F%2F", "http:%2F%2F"})
  void thinkTaggedStreamArrivesSplitInEveryBaseUrlForm(String scheme) throws Exception {
    upstream.enqueue(Sse.thinkStream());
    String target = CONTEXT_PATH + "/proxy/" + scheme + "127.0.0.1:" + upstream.getPort() + "/v1/chat/completions";

    RawHttp.Response r = RawHttp.postJson(port, target, REQUEST_BODY);

    Sse.assertSplitThinkStream(r);
    RecordedRequest request = upstream.takeRequest(10, TimeUnit.SECONDS);
    assertThat(request).as("request at the upstream").isNotNull();
    assertThat(request.getTarget()).isEqualTo("/v1/chat/completions");
    assertThat(request.getHeaders().get("Authorization")).isEqualTo("Bearer sk-raw");
  }

  @Test
  void rawIpv6LiteralReachesTheProxy() throws Exception {
    // Without relaxedPathChars Tomcat answers 400 itself; here the proxy's policy (allow-host) answers.
    RawHttp.Response r = RawHttp.postJson(port, CONTEXT_PATH + "/proxy/http://[::1]:8000/v1/chat/completions",
        REQUEST_BODY);

    assertThat(r.status()).as("%s", r).isEqualTo(403);
    assertThat(r.json().path("error").path("code").asText()).isEqualTo("target_refused");
  }

  /** The example web.xml with an init-param {@code allow-host} added to the servlet. */
  private static byte[] webXmlAllowing(String hostAndPort) throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setNamespaceAware(true);
    Document doc = factory.newDocumentBuilder().parse(WEB_XML.toFile());
    Element servlet = (Element) doc.getElementsByTagNameNS("*", "servlet").item(0);
    String ns = servlet.getNamespaceURI();
    Element param = doc.createElementNS(ns, "init-param");
    param.appendChild(doc.createElementNS(ns, "param-name")).setTextContent(InitParams.ALLOW_HOST);
    param.appendChild(doc.createElementNS(ns, "param-value")).setTextContent(hostAndPort);
    servlet.insertBefore(param, servlet.getElementsByTagNameNS("*", "load-on-startup").item(0));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TransformerFactory.newInstance().newTransformer().transform(new DOMSource(doc), new StreamResult(out));
    return out.toByteArray();
  }

  /** A WAR with {@code webXml} as its deployment descriptor and the jars of {@link #WEB_INF_LIB}. */
  private static void writeWar(Path war, byte[] webXml) throws IOException, URISyntaxException {
    Map<String, byte[]> libraries = new LinkedHashMap<>();
    for (Class<?> c : WEB_INF_LIB) {
      Path location = Path.of(c.getProtectionDomain().getCodeSource().getLocation().toURI());
      if (Files.isDirectory(location)) {
        // A sibling module's target/classes, when the build has not packaged it: the WAR gets it as a jar.
        libraries.put(location.getParent().getParent().getFileName() + ".jar", jarOf(location));
      } else {
        libraries.put(location.getFileName().toString(), Files.readAllBytes(location));
      }
    }
    try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(war))) {
      add(out, "WEB-INF/web.xml", webXml);
      for (Map.Entry<String, byte[]> lib : libraries.entrySet()) {
        add(out, "WEB-INF/lib/" + lib.getKey(), lib.getValue());
      }
    }
  }

  private static byte[] jarOf(Path classes) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (JarOutputStream out = new JarOutputStream(bytes); Stream<Path> files = Files.walk(classes)) {
      for (Path file : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
        add(out, classes.relativize(file).toString().replace('\\', '/'), Files.readAllBytes(file));
      }
    }
    return bytes.toByteArray();
  }

  private static void add(JarOutputStream out, String name, byte[] content) throws IOException {
    out.putNextEntry(new JarEntry(name));
    out.write(content);
    out.closeEntry();
  }

  /**
   * What a webapp's parent class loader offers in a Tomcat installation: Tomcat's own classes and the Servlet API,
   * and nothing else of this JVM's class path.
   */
  static final class ContainerOnlyClassLoader extends ClassLoader {
    private static final List<String> CONTAINER_PACKAGES = List.of("jakarta/servlet/", "org/apache/catalina/",
        "org/apache/coyote/", "org/apache/tomcat/", "org/apache/juli/", "org/apache/naming/");
    private final ClassLoader application;

    ContainerOnlyClassLoader(ClassLoader application) {
      super("tomcat-common", ClassLoader.getPlatformClassLoader());
      this.application = application;
    }

    private static boolean isContainer(String resource) {
      return CONTAINER_PACKAGES.stream().anyMatch(resource::startsWith);
    }

    @Override
    protected Class<?> findClass(String name) throws ClassNotFoundException {
      if (isContainer(name.replace('.', '/'))) {
        return application.loadClass(name);
      }
      throw new ClassNotFoundException(name);
    }

    @Override
    protected URL findResource(String name) {
      return isContainer(name) ? application.getResource(name) : null;
    }

    @Override
    protected Enumeration<URL> findResources(String name) throws IOException {
      return isContainer(name) ? application.getResources(name) : Collections.emptyEnumeration();
    }
  }
}
