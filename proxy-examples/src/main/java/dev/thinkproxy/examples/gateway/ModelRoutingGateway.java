package dev.thinkproxy.examples.gateway;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.thinkproxy.ChatCompletionProxy;
import dev.thinkproxy.ProxyCall;
import dev.thinkproxy.ProxyException;
import dev.thinkproxy.ProxyRequest;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/**
 * A chat-completions gateway on the JDK's built-in HTTP server and {@code proxy-core} alone, with no servlet
 * container: clients use {@code http://HOST:PORT/v1} as their base URL, each {@code POST /v1/chat/completions} goes
 * to the provider its {@code model} is routed to with the header {@value #GATEWAY_HEADER} added, and the answer
 * streams back event by event with reasoning moved out of {@code <think>} tags.
 *
 * <pre>{@code
 * ChatCompletionProxy proxy = ChatCompletionProxy.builder().build();
 * ModelRoutingGateway gateway = ModelRoutingGateway.start(new InetSocketAddress("127.0.0.1", 8081), proxy,
 *     model -> model.startsWith("deepseek") ? "https://api.deepseek.com/v1" : "https://api.openai.com/v1");
 * }</pre>
 *
 * <p>A request whose body has no {@code model} gets 400 from the gateway itself, and one larger than the proxy's
 * {@linkplain ChatCompletionProxy#maxBodyBytes() body limit} 413; everything else (the target policy, timeouts,
 * upstream errors) is the proxy's. The JDK server's I/O is blocking, so each running exchange holds one of the
 * gateway's threads until its response has ended. A client that goes away is noticed on the next write to it (during
 * a silence, the proxy's heartbeats are such writes): the write fails and the proxy cancels the upstream call.
 */
public final class ModelRoutingGateway implements AutoCloseable {
  /** The header added to every request sent upstream, with the value {@code thinkproxy}. */
  public static final String GATEWAY_HEADER = "X-Gateway";
  /** The only path served: clients' base URL is {@code http://HOST:PORT/v1}. */
  public static final String PATH = "/v1/chat/completions";

  private static final JsonFactory JSON = new JsonFactory();

  private final ChatCompletionProxy proxy;
  private final Function<String, String> baseUrlForModel;
  private final HttpServer server;
  private final ExecutorService threads;

  private ModelRoutingGateway(ChatCompletionProxy proxy, Function<String, String> baseUrlForModel, HttpServer server,
      ExecutorService threads) {
    this.proxy = proxy;
    this.baseUrlForModel = baseUrlForModel;
    this.server = server;
    this.threads = threads;
  }

  /**
   * Starts the gateway.
   *
   * @param address where to listen; port 0 picks a free one
   * @param proxy the proxy that forwards the requests; the caller keeps it and closes it after {@link #close()}
   * @param baseUrlForModel the provider's base URL for a model, e.g. {@code https://api.deepseek.com/v1}; requests
   *     go to that URL plus {@code /chat/completions}
   * @return the running gateway
   * @throws IOException when the address cannot be bound
   */
  public static ModelRoutingGateway start(InetSocketAddress address, ChatCompletionProxy proxy,
      Function<String, String> baseUrlForModel) throws IOException {
    Objects.requireNonNull(proxy, "proxy");
    Objects.requireNonNull(baseUrlForModel, "baseUrlForModel");
    HttpServer server = HttpServer.create(address, 0);
    AtomicInteger ids = new AtomicInteger();
    ExecutorService threads = Executors.newCachedThreadPool(task -> {
      Thread t = new Thread(task, "gateway-" + ids.incrementAndGet());
      t.setDaemon(true);
      return t;
    });
    ModelRoutingGateway gateway = new ModelRoutingGateway(proxy, baseUrlForModel, server, threads);
    // Every path, so that the ones other than PATH get an OpenAI-shaped 404 rather than the server's own page.
    server.createContext("/", gateway::handle);
    server.setExecutor(threads);
    server.start();
    return gateway;
  }

  /** The port the gateway listens on. */
  public int port() {
    return server.getAddress().getPort();
  }

  /** Stops listening and cancels the exchanges still running. */
  @Override
  public void close() {
    server.stop(0);
    // Interrupts the handlers waiting for their responses: each cancels its proxy call.
    threads.shutdownNow();
  }

  private void handle(HttpExchange exchange) throws IOException {
    String client = exchange.getRemoteAddress().getAddress().getHostAddress();
    if (!exchange.getRequestURI().getRawPath().equals(PATH)) {
      refuse(exchange, client, new ProxyException(404, "invalid_request_error", "not_found",
          "this gateway serves POST " + PATH + " only"));
      return;
    }
    // One byte over the limit is enough to know the body is too large; more is never read.
    int readLimit = (int) Math.min(proxy.maxBodyBytes() + 1, Integer.MAX_VALUE - 8);
    byte[] body = exchange.getRequestBody().readNBytes(readLimit);
    if (body.length > proxy.maxBodyBytes()) {
      refuse(exchange, client, new ProxyException(413, "invalid_request_error", "request_too_large",
          "request body exceeds the limit of " + proxy.maxBodyBytes() + " bytes"));
      return;
    }
    String model = modelOf(body);
    if (model == null) {
      refuse(exchange, client, new ProxyException(400, "invalid_request_error", "model_required",
          "the request body must be a JSON object with a \"model\": the gateway routes by it"));
      return;
    }
    ProxyRequest.Builder request = ProxyRequest.builder()
        .method(exchange.getRequestMethod())
        .targetPath("/" + baseUrlForModel.apply(model) + "/chat/completions")
        .query(exchange.getRequestURI().getRawQuery())
        .clientAddress(client)
        .body(body);
    for (Map.Entry<String, List<String>> header : exchange.getRequestHeaders().entrySet()) {
      if (!header.getKey().equalsIgnoreCase(GATEWAY_HEADER)) {
        header.getValue().forEach(value -> request.addHeader(header.getKey(), value));
      }
    }
    request.addHeader(GATEWAY_HEADER, "thinkproxy");
    ExchangeSink sink = new ExchangeSink(exchange);
    ProxyCall call = proxy.forward(request.build(), sink);
    sink.awaitEnd(call);
  }

  /** Answers with the gateway's own error, and tells the proxy's listeners (access log, metrics) about it. */
  private void refuse(HttpExchange exchange, String client, ProxyException error) throws IOException {
    proxy.reportRefused(exchange.getRequestMethod(), client, error);
    byte[] json = error.toJson();
    error.responseHeaders(json.length).forEach(h -> {
      if (!h.getKey().equalsIgnoreCase("Content-Length")) {
        exchange.getResponseHeaders().add(h.getKey(), h.getValue());
      }
    });
    exchange.sendResponseHeaders(error.status(), json.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(json);
    }
  }

  /** The top-level {@code model} of a JSON object, read without building a tree of the whole body; or null. */
  static String modelOf(byte[] body) {
    try (JsonParser json = JSON.createParser(body)) {
      if (json.nextToken() != JsonToken.START_OBJECT) {
        return null;
      }
      while (json.nextToken() == JsonToken.FIELD_NAME) {
        String field = json.currentName();
        JsonToken value = json.nextToken();
        if (field.equals("model")) {
          return value == JsonToken.VALUE_STRING && !json.getText().isBlank() ? json.getText() : null;
        }
        json.skipChildren();
      }
    } catch (IOException e) {
      // Not JSON, or broken before a model: there is no model to route by.
    }
    return null;
  }
}
