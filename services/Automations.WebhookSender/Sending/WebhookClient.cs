using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Automations.Core.Secrets;
using Automations.Core.Templates;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Sending;

/// <summary>What one request did. Request headers and body are masked: they never hold a secret value.</summary>
public sealed record SendResult(
    int? StatusCode,
    IReadOnlyDictionary<string, string> ResponseHeaders,
    string? ResponseBody,
    string? Error,
    double DurationMs,
    DateTimeOffset StartedAt,
    bool Refused,
    TimeSpan? RetryAfter,
    string RequestUrl,
    IReadOnlyDictionary<string, string> RequestHeaders,
    string RequestBody)
{
    public bool Success => StatusCode is >= 200 and < 300 && Error is null;
}

/// <summary>
/// Renders, signs and posts one webhook request: secrets are filled in at send time, the host is resolved and every
/// address checked by the SSRF guard, and the connection goes to the checked address only (no second DNS lookup).
/// Redirects are not followed. The request carries the documented headers only (docs/webhooks.md): of the trace, just
/// `traceparent` and `tracestate`.
/// </summary>
public sealed class WebhookClient : IDisposable
{
    public const int BodyExcerptBytes = 4096;
    private const string Mask = "********";
    private static readonly HttpRequestOptionsKey<IPAddress[]> ConnectTo = new("Automations.ConnectTo");

    private readonly HttpClient _http;
    private readonly AddressPolicy _policy;
    private readonly SecretCipher _cipher;
    private readonly NpgsqlDataSource _dataSource;
    private readonly WebhookOptions _options;

    public WebhookClient(IOptions<WebhookOptions> options, SecretCipher cipher, NpgsqlDataSource dataSource)
    {
        _options = options.Value;
        _policy = AddressPolicy.Parse(_options.AllowedCidrs);
        _cipher = cipher;
        _dataSource = dataSource;
        var handler = new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionLifetime = TimeSpan.FromMinutes(2),
            ConnectTimeout = _options.Timeout,
            ConnectCallback = ConnectToCheckedAddressAsync,
            ActivityHeadersPropagator = TraceContextOnlyPropagator.Instance,
        };
        _http = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
    }

    private static async ValueTask<Stream> ConnectToCheckedAddressAsync(SocketsHttpConnectionContext context, CancellationToken ct)
    {
        if (!context.InitialRequestMessage.Options.TryGetValue(ConnectTo, out var addresses) || addresses.Length == 0)
            throw new HttpRequestException("refused: no checked address for this request");
        // Only the addresses the guard checked, in resolver order (IPv6 then IPv4, say): never a fresh lookup.
        SocketException? last = null;
        foreach (var address in addresses)
        {
            var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            try
            {
                await socket.ConnectAsync(new IPEndPoint(address, context.DnsEndPoint.Port), ct);
                return new NetworkStream(socket, ownsSocket: true);
            }
            catch (SocketException ex)
            {
                socket.Dispose();
                last = ex;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }
        throw last!;
    }

    public async Task<SendResult> SendAsync(WebhookTarget webhook, Guid messageId, string payload, CancellationToken ct)
    {
        var startedAt = DateTimeOffset.UtcNow;
        var clock = Stopwatch.StartNew();
        var maskedHeaders = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var maskedBody = payload;
        SendResult Fail(string error, bool refused) =>
            new(null, new Dictionary<string, string>(), null, error, clock.Elapsed.TotalMilliseconds, startedAt, refused, null, webhook.Url, maskedHeaders, maskedBody);

        if (!Uri.TryCreate(webhook.Url, UriKind.Absolute, out var url) || (url.Scheme != Uri.UriSchemeHttps && url.Scheme != Uri.UriSchemeHttp))
            return Fail("refused: the webhook URL is not an absolute http(s) URL", refused: true);

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(url.IdnHost, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(url.IdnHost, ct);
        }
        catch (SocketException ex)
        {
            return Fail($"could not resolve {url.IdnHost}: {ex.SocketErrorCode}", refused: false);
        }
        if (addresses.Length == 0) return Fail($"could not resolve {url.IdnHost}: no address", refused: false);
        foreach (var address in addresses)
            if (_policy.Check(address) is { } reason)
                return Fail($"refused by the SSRF guard: {url.IdnHost} resolves to {reason}", refused: true);

        string body, secret;
        string? token;
        try
        {
            (body, maskedBody, secret, token) = await RenderAsync(webhook, payload, ct);
        }
        catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or System.Text.Json.JsonException)
        {
            return Fail($"could not prepare the request: {ex.GetType().Name}", refused: false);
        }

        var bytes = Encoding.UTF8.GetBytes(body);
        var timestamp = startedAt.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent(bytes) };
        request.Options.Set(ConnectTo, addresses);
        request.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        request.Headers.UserAgent.ParseAdd(WebhookOptions.UserAgent);
        request.Headers.TryAddWithoutValidation("webhook-id", messageId.ToString());
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        maskedHeaders["Content-Type"] = "application/json";
        maskedHeaders["User-Agent"] = WebhookOptions.UserAgent;
        maskedHeaders["webhook-id"] = messageId.ToString();
        maskedHeaders["webhook-timestamp"] = timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (token is not null)
        {
            request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            maskedHeaders["Authorization"] = "Bearer " + Mask;
        }
        if (secret.Length > 0)
        {
            var wandb = Signatures.Wandb(secret, bytes);
            var standard = Signatures.StandardWebhooks(secret, messageId.ToString(), timestamp, bytes);
            request.Headers.TryAddWithoutValidation("X-Wandb-Signature", wandb);
            request.Headers.TryAddWithoutValidation("webhook-signature", standard);
            maskedHeaders["X-Wandb-Signature"] = wandb;
            maskedHeaders["webhook-signature"] = standard;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            foreach (var h in response.Headers.Concat(response.Content.Headers)) headers[h.Key] = string.Join(", ", h.Value);
            var excerpt = await ReadExcerptAsync(response, timeout.Token);
            var status = (int)response.StatusCode;
            string? error = status switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"redirect not followed ({status}{(response.Headers.Location is { } l ? " to " + l : "")})",
                _ => $"HTTP {status}",
            };
            TimeSpan? retryAfter = status is 429 or 503
                ? response.Headers.RetryAfter switch
                {
                    { Delta: { } d } => d > _options.MaxRetryAfter ? _options.MaxRetryAfter : d,
                    { Date: { } at } => RetrySchedule.ParseRetryAfter(at.ToString("R"), DateTimeOffset.UtcNow, _options.MaxRetryAfter),
                    _ => null,
                }
                : null;
            return new SendResult(status, headers, excerpt, error, clock.Elapsed.TotalMilliseconds, startedAt, false, retryAfter, webhook.Url, maskedHeaders, maskedBody);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Fail($"timed out after {_options.Timeout.TotalSeconds:0.#} s", refused: false);
        }
        catch (HttpRequestException ex)
        {
            return Fail($"request failed: {ex.HttpRequestError} {ex.InnerException?.Message ?? ex.Message}", refused: false);
        }
    }

    private async Task<(string Body, string MaskedBody, string Secret, string? Token)> RenderAsync(WebhookTarget webhook, string payload, CancellationToken ct)
    {
        var names = PayloadTemplate.Names(payload).Distinct(StringComparer.Ordinal).ToList();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        if (names.Count > 0)
        {
            await using var connection = await _dataSource.OpenConnectionAsync(ct);
            foreach (var s in await WebhookQueries.FindSecretsAsync(connection, webhook.EntityId, names, ct))
                values[s.Name] = _cipher.Decrypt(webhook.EntityId, s.Name, s.Value);
        }
        var body = PayloadTemplate.Render(payload, values, PayloadTemplate.RenderMode.Final);
        var masked = PayloadTemplate.Render(payload, n => values.ContainsKey(n) ? Mask : null, PayloadTemplate.RenderMode.Final);
        var secret = webhook.Secret is { } sec ? _cipher.Decrypt(webhook.EntityId, sec.Name, sec.Value) : "";
        var token = webhook.AccessToken is { } t ? _cipher.Decrypt(webhook.EntityId, t.Name, t.Value) : null;
        return (body, masked, secret, token);
    }

    private static async Task<string> ReadExcerptAsync(HttpResponseMessage response, CancellationToken ct)
    {
        await using var stream = await response.Content.ReadAsStreamAsync(ct);
        var buffer = new byte[BodyExcerptBytes];
        var read = 0;
        while (read < buffer.Length)
        {
            var n = await stream.ReadAsync(buffer.AsMemory(read), ct);
            if (n == 0) break;
            read += n;
        }
        // Cut at a character boundary so the excerpt stays valid text.
        return Encoding.UTF8.GetString(buffer, 0, read).TrimEnd('\uFFFD').Replace("\0", "", StringComparison.Ordinal);
    }

    public void Dispose() => _http.Dispose();
}
