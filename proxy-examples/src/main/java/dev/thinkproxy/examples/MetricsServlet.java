package dev.thinkproxy.examples;

import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;

/** {@code GET /metrics}: the registry's meters in the Prometheus text exposition format 0.0.4. */
final class MetricsServlet extends HttpServlet {
  private static final long serialVersionUID = 1L;
  /**
   * The format asked of the registry and announced to the scraper, one constant for both: Prometheus 3 refuses a
   * scrape whose Content-Type does not name the format of the body.
   */
  static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final transient PrometheusMeterRegistry registry;

  MetricsServlet(PrometheusMeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  protected void doGet(HttpServletRequest req, HttpServletResponse resp) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream(16 * 1024);
    registry.scrape(body, CONTENT_TYPE);
    resp.setStatus(200);
    resp.setContentType(CONTENT_TYPE);
    resp.setContentLength(body.size());
    body.writeTo(resp.getOutputStream());
  }
}
