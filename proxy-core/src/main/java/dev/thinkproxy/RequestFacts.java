package dev.thinkproxy;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;

/**
 * What the proxy needs from a request body: its top-level {@code model} and whether it asks for an event stream.
 * Read in one pass that stops as soon as both are known; a body that is not a JSON object has neither.
 */
record RequestFacts(String model, boolean stream) {
  static final RequestFacts NONE = new RequestFacts(null, false);

  static RequestFacts of(byte[] body, ObjectMapper mapper) {
    if (body.length == 0) {
      return NONE;
    }
    String model = null;
    Boolean stream = null;
    try (JsonParser p = mapper.getFactory().createParser(body)) {
      if (p.nextToken() != JsonToken.START_OBJECT) {
        return NONE;
      }
      while ((model == null || stream == null) && p.nextToken() == JsonToken.FIELD_NAME) {
        String name = p.currentName();
        JsonToken value = p.nextToken();
        if (model == null && name.equals("model") && value == JsonToken.VALUE_STRING) {
          model = p.getText();
        } else if (stream == null && name.equals("stream")) {
          stream = value == JsonToken.VALUE_TRUE;
        } else {
          p.skipChildren();
        }
      }
    } catch (IOException e) {
      // Not JSON, or broken after the fields that were read: what was found stands.
    }
    return new RequestFacts(model, stream != null && stream);
  }
}
