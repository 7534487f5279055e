using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automations.Cli;
using Automations.Core.Webhooks;
using Automations.Testing;
using Xunit.Abstractions;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// The example of docs/automations-as-code.md ("From an empty team to a working automation"), run as written against
/// real services: an empty team, the secret the file names, one `automations apply -f` of docs/examples/team.yaml (read
/// from the repository, RECEIVER replaced), the event of docs/examples/event.json, and one signed delivery, which
/// docs/examples/receiver.py accepts (and refuses once altered).
/// </summary>
public class Going_from_an_empty_team_to_a_working_automation(PipelineFixture fx, ITestOutputHelper output) : IClassFixture<PipelineFixture>
{
    private static readonly string Root = FindRoot();

    private static string FindRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Automations.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Automations.sln not found above " + AppContext.BaseDirectory);
    }

    private static string Example(string name) => Path.Combine(Root, "docs", "examples", name);

    [Fact]
    public async Task Should_deliver_one_signed_webhook_after_one_apply_of_the_example_file()
    {
        // The docs run exactly these files.
        var guide = await File.ReadAllTextAsync(Path.Combine(Root, "docs", "automations-as-code.md"));
        foreach (var step in new[] { "docs/examples/receiver.py", "/v1/entities/acme/secrets", "sed \"s/RECEIVER/", "docs/examples/team.yaml",
                     "dotnet run --project tools/Automations.Cli -- apply -f team.yaml", "@docs/examples/event.json" })
            Assert.Contains(step, guide, StringComparison.Ordinal);
        var yaml = await File.ReadAllTextAsync(Example("team.yaml"));
        Assert.Contains("http://RECEIVER/hooks/ci", yaml, StringComparison.Ordinal);

        using var api = fx.ApiClient();
        // An empty team: no webhook, no automation.
        Assert.Equal(0, (await api.GetFromJsonAsync<JsonElement>("/v1/entities/acme/webhooks")).GetArrayLength());
        Assert.Equal(0, (await api.GetFromJsonAsync<JsonElement>("/v1/entities/acme/projects/mnist/automations")).GetArrayLength());

        // The secret the file names, as the docs create it (a Standard Webhooks whsec_ secret).
        var secret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
        using (var created = await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = "CI_SIGNING", value = secret }))
            Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());

        // The one command, on the file with RECEIVER replaced by the receiver's host and port.
        var dir = Directory.CreateTempSubdirectory("automations-example");
        try
        {
            var file = Path.Combine(dir.FullName, "team.yaml");
            await File.WriteAllTextAsync(file, yaml.Replace("RECEIVER", fx.Receiver.BaseAddress.Authority, StringComparison.Ordinal));
            using var stdout = new StringWriter();
            using var stderr = new StringWriter();
            var env = new Dictionary<string, string?> { ["AUTOMATIONS_API_KEY"] = fx.AdminKey };
            var exit = await CommandLine.RunAsync(["apply", "-f", file, "--api", fx.Api.BaseAddress.ToString()], stdout, stderr, name => env.GetValueOrDefault(name));
            output.WriteLine(stdout.ToString() + stderr);
            Assert.Equal((CommandLine.NoChange, ""), (exit, stderr.ToString()));
            Assert.Contains("+ webhook ci", stdout.ToString(), StringComparison.Ordinal);
            Assert.Contains("+ automation mnist/evaluate new eval sets", stdout.ToString(), StringComparison.Ordinal);
            Assert.Contains("Applied.", stdout.ToString(), StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }

        // One event, as the docs post it.
        using (var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events"))
        {
            request.Content = new ByteArrayContent(await File.ReadAllBytesAsync(Example("event.json")));
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
            using var accepted = await fx.Ingestion.Client.SendAsync(request);
            Assert.True(accepted.StatusCode == HttpStatusCode.Accepted, await accepted.Content.ReadAsStringAsync());
        }

        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On("/hooks/ci").Count > 0), "the receiver got the webhook", TimeSpan.FromSeconds(60));
        var delivery = Assert.Single(fx.Receiver.On("/hooks/ci"));
        output.WriteLine(delivery.BodyText);
        var id = delivery.Header("webhook-id")!;
        var timestamp = long.Parse(delivery.Header("webhook-timestamp")!, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(Signatures.VerifyStandardWebhooks(secret, id, timestamp, delivery.Body, delivery.Header("webhook-signature")), "webhook-signature verifies with the secret");
        Assert.True(Signatures.VerifyWandb(secret, delivery.Body, delivery.Header("X-Wandb-Signature")), "X-Wandb-Signature verifies with the secret");
        var body = JsonDocument.Parse(delivery.Body).RootElement;
        Assert.Equal(("evaluate", "acme/mnist/eval-set:v4", "jane"),
            (body.GetProperty("event_type").GetString(), body.GetProperty("version").GetString(), body.GetProperty("author").GetString()));

        // The docs' receiver says the same of that very request, and refuses it with one byte changed.
        await using var receiver = await PythonReceiver.StartAsync(Example("receiver.py"), secret);
        Assert.Equal(HttpStatusCode.NoContent, await receiver.ReplayAsync(delivery, delivery.Body));
        Assert.Equal("/hooks/ci signature ok: " + delivery.BodyText, await receiver.NextLineAsync());
        var altered = delivery.Body.ToArray();
        altered[^2] ^= 1;
        Assert.Equal(HttpStatusCode.Unauthorized, await receiver.ReplayAsync(delivery, altered));
        Assert.Equal("/hooks/ci signature BAD", await receiver.NextLineAsync());
    }

    /// <summary>docs/examples/receiver.py run by python3 on a free port, its printed lines collected.</summary>
    private sealed class PythonReceiver : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly BlockingCollection<string> _lines;
        private readonly HttpClient _client;

        private PythonReceiver(Process process, BlockingCollection<string> lines, int port)
        {
            _process = process;
            _lines = lines;
            _client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
        }

        public static async Task<PythonReceiver> StartAsync(string script, string secret)
        {
            // Port 0: the script binds a free port itself and prints it, so no other process can take the port between
            // a probe and the bind (a port picked here first could, and then the replay would reach that process).
            var start = new ProcessStartInfo("python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            start.ArgumentList.Add(script);
            start.ArgumentList.Add("0");
            start.Environment["CI_SIGNING"] = secret;
            var process = Process.Start(start) ?? throw new InvalidOperationException("python3 did not start");
            var lines = new BlockingCollection<string>();
            process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lines.Add(line); };
            process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lines.Add("stderr: " + line); };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            const string listening = "stderr: receiver.py listening on port ";
            var first = await Task.Run(() => lines.TryTake(out var line, TimeSpan.FromSeconds(20)) ? line : "(nothing within 20 s)");
            if (!first.StartsWith(listening, StringComparison.Ordinal))
            {
                if (!process.HasExited) process.Kill(entireProcessTree: true);
                throw new InvalidOperationException("receiver.py did not start: " + first);
            }
            return new PythonReceiver(process, lines, int.Parse(first[listening.Length..], System.Globalization.CultureInfo.InvariantCulture));
        }

        public async Task<HttpStatusCode> ReplayAsync(Receiver.Request delivery, byte[] body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Path) { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
            request.Headers.ConnectionClose = true; // the script's server speaks HTTP/1.0: one request per connection
            foreach (var name in new[] { "webhook-id", "webhook-timestamp", "webhook-signature" })
                request.Headers.TryAddWithoutValidation(name, delivery.Header(name));
            using var response = await _client.SendAsync(request);
            return response.StatusCode;
        }

        public Task<string> NextLineAsync() => Task.Run(() =>
            _lines.TryTake(out var line, TimeSpan.FromSeconds(10)) ? line : throw new TimeoutException("receiver.py printed nothing"));

        public async ValueTask DisposeAsync()
        {
            _client.Dispose();
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
            _process.Dispose();
            _lines.Dispose();
        }
    }
}
