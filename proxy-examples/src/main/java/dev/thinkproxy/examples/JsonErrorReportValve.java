package dev.thinkproxy.examples;

import dev.thinkproxy.ProxyException;
import java.io.IOException;
import java.io.OutputStream;
import org.apache.catalina.connector.Request;
import org.apache.catalina.connector.Response;
import org.apache.catalina.valves.ErrorReportValve;

/**
 * Answers the container's own errors (unknown paths, request lines the connector refuses, failures outside the
 * proxy) in the OpenAI error shape instead of Tomcat's HTML page, so every client sees one format.
 */
public final class JsonErrorReportValve extends ErrorReportValve {

  @Override
  protected void report(Request request, Response response, Throwable throwable) {
    int status = response.getStatus();
    if (status < 400 || response.getContentWritten() > 0 || !response.setErrorReported()) {
      return;
    }
    String type = status >= 500 ? "server_error" : "invalid_request_error";
    String message = status == 404
        ? "no such endpoint; send requests to /proxy/https://<provider>/v1/chat/completions"
        : "the request was refused by the server (HTTP " + status + ")";
    byte[] body = new ProxyException(status, type, "http_" + status, message).toJson();
    try {
      response.setContentType("application/json");
      response.setContentLength(body.length);
      OutputStream out = response.getOutputStream();
      out.write(body);
      response.finishResponse();
    } catch (IOException | IllegalStateException e) {
      // the client is gone or the response was committed in the meantime
    }
  }
}
