using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Automations.Benchmarks;

/// <summary>Creates the benchmark's own team, secret, webhooks and automations through the Api.</summary>
public static class Setup
{
    public sealed record Team(string Entity, string Key, HttpClient Api);

    public static async Task<Team> CreateTeamAsync(Options o)
    {
        var entity = "bench" + Guid.NewGuid().ToString("N")[..8];
        var apiDll = Path.GetFullPath("services/Automations.Api/bin/Release/net10.0/Automations.Api.dll");
        var psi = new ProcessStartInfo("dotnet", [apiDll, "bootstrap", "--entity", entity, "--user", "bench-admin", "--quiet"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(apiDll)!,
        };
        psi.Environment["ConnectionStrings__Postgres"] = o.Postgres;
        using var p = Process.Start(psi)!;
        var key = (await p.StandardOutput.ReadToEndAsync()).Trim().Split('\n').Last().Trim();
        var err = await p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0 || !key.StartsWith("ak_", StringComparison.Ordinal)) throw new InvalidOperationException("bootstrap failed: " + err);
        var api = new HttpClient { BaseAddress = new Uri(o.Api), Timeout = TimeSpan.FromSeconds(30) };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return new Team(entity, key, api);
    }

    public static async Task<JsonElement> PostAsync(HttpClient api, string path, object body)
    {
        using var response = await api.PostAsJsonAsync(path, body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST {path} -> {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>A secret, and per endpoint name a webhook (to the receiver) and an automation on CREATE_ARTIFACT in collection bench-set.</summary>
    public static async Task WireAsync(Team team, Uri receiver, string secretValue, params string[] endpoints)
    {
        await PostAsync(team.Api, $"/v1/entities/{team.Entity}/secrets", new { name = "BENCH_SECRET", value = secretValue });
        foreach (var name in endpoints)
        {
            await PostAsync(team.Api, $"/v1/entities/{team.Entity}/webhooks", new { name = $"bench-{name}", url = new Uri(receiver, $"/hook/{name}").ToString(), secret = "BENCH_SECRET" });
            const string payload = """{"bench_id": "${artifact_metadata.bench_id}", "sent_at": "${artifact_metadata.sent_at}", "version": "${artifact_version_string}", "author": "${event_author}"}""";
            await PostAsync(team.Api, $"/v1/entities/{team.Entity}/projects/bench/automations", new
            {
                name = $"bench-{name}",
                description = "benchmark",
                enabled = true,
                @event = new { type = "CREATE_ARTIFACT", collection = "bench-set" },
                action = new { type = "webhook", webhook = $"bench-{name}", payload },
            });
        }
    }
}
