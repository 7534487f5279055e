using System.Security.Cryptography;
using Microsoft.Extensions.Caching.Memory;

namespace Automations.Console.Session;

/// <summary>A webhook test's outcome (the payload sent and the Api's report, or the payload's error), kept for the page the post redirects to.</summary>
public sealed record TestRun(Guid WebhookId, string Owner, string Payload, System.Text.Json.JsonElement? Report, string? PayloadError, string? Message);

/// <summary>
/// Test outcomes are too large for a cookie, so they wait here, in this replica's memory, for ten minutes, readable only
/// by the same key. With several replicas, sticky sessions keep the redirect on the replica that sent the test;
/// otherwise the page says the result is gone and the user sends again.
/// </summary>
public sealed class TestResults(IMemoryCache cache)
{
    public string Store(TestRun run)
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        cache.Set("test:" + id, run, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = TimeSpan.FromMinutes(10) });
        return id;
    }

    public TestRun? Find(string? id, Guid webhookId, string owner) =>
        id is { Length: > 0 } && cache.TryGetValue("test:" + id, out TestRun? run) && run!.WebhookId == webhookId && run.Owner == owner ? run : null;
}
