// Send a signed request to Onewindow with Java's standard library only (Java 15 or later).
//
// RFC 9421 HTTP Message Signatures over "@method", "@target-uri" and "content-digest" (RFC 9530, sha-256),
// with created, a fresh random nonce, keyid and alg; HMAC-SHA256 or Ed25519. docs/api.md shows the bytes.
//
// Usage: java SignedRequest.java URL KEY_ID KEY ENVELOPE.json
//   KEY: for hmac-sha256, the base64 secret 'onewindow caller add-key --alg hmac-sha256' printed;
//        for ed25519, the path of the caller's PKCS#8 private key PEM (openssl genpkey -algorithm ed25519).
// Prints the HTTP status and the gateway's answer; exits 1 on a 4xx or 5xx.

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyFactory;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.SecureRandom;
import java.security.Signature;
import java.security.spec.PKCS8EncodedKeySpec;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.UUID;
import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

public final class SignedRequest {
    private SignedRequest() {}

    static String contentDigest(byte[] body) throws Exception {
        byte[] sha = MessageDigest.getInstance("SHA-256").digest(body);
        return "sha-256=:" + Base64.getEncoder().encodeToString(sha) + ":";
    }

    /** RFC 9421 section 2.5: one line per covered component, then @signature-params; no final newline. */
    static byte[] signatureBase(String method, String targetUri, String digest, String params) {
        String base = "\"@method\": " + method + "\n"
                + "\"@target-uri\": " + targetUri + "\n"
                + "\"content-digest\": " + digest + "\n"
                + "\"@signature-params\": " + params;
        return base.getBytes(StandardCharsets.US_ASCII);
    }

    static byte[] sign(String key, byte[] base) throws Exception {
        Path pem = Path.of(key);
        if (!Files.isRegularFile(pem)) {
            Mac mac = Mac.getInstance("HmacSHA256");
            mac.init(new SecretKeySpec(Base64.getDecoder().decode(key), "HmacSHA256"));
            return mac.doFinal(base);
        }
        String text = Files.readString(pem).replaceAll("-----[A-Z ]+-----", "").replaceAll("\\s", "");
        PrivateKey privateKey = KeyFactory.getInstance("Ed25519")
                .generatePrivate(new PKCS8EncodedKeySpec(Base64.getDecoder().decode(text)));
        Signature signer = Signature.getInstance("Ed25519");
        signer.initSign(privateKey);
        signer.update(base);
        return signer.sign();
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: java SignedRequest.java URL KEY_ID KEY ENVELOPE.json");
            System.exit(2);
        }
        String url = args[0].replaceAll("/+$", "") + "/v1/requests";
        String keyId = args[1];
        String key = args[2];
        byte[] body = Files.readAllBytes(Path.of(args[3]));
        String alg = Files.isRegularFile(Path.of(key)) ? "ed25519" : "hmac-sha256";

        byte[] random = new byte[16];
        new SecureRandom().nextBytes(random);
        String digest = contentDigest(body);
        String params = "(\"@method\" \"@target-uri\" \"content-digest\")"
                + ";created=" + (System.currentTimeMillis() / 1000)
                + ";nonce=\"" + HexFormat.of().formatHex(random) + "\""
                + ";keyid=\"" + keyId + "\""
                + ";alg=\"" + alg + "\"";
        String signature = Base64.getEncoder().encodeToString(sign(key, signatureBase("POST", url, digest, params)));

        HttpRequest request = HttpRequest.newBuilder(URI.create(url))
                .timeout(Duration.ofSeconds(60))
                .header("Content-Type", "application/json")
                .header("Idempotency-Key", UUID.randomUUID().toString())
                .header("Content-Digest", digest)
                .header("Signature-Input", "sig1=" + params)
                .header("Signature", "sig1=:" + signature + ":")
                .POST(HttpRequest.BodyPublishers.ofByteArray(body))
                .build();
        HttpResponse<String> answer = HttpClient.newHttpClient()
                .send(request, HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
        System.out.println(answer.statusCode());
        System.out.println(answer.body());
        System.exit(answer.statusCode() < 400 ? 0 : 1);
    }
}
