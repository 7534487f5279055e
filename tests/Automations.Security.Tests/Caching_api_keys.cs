using Automations.Persistence.Control;
using Microsoft.Extensions.Internal;

namespace Automations.Security.Tests;

/// <summary>
/// The key cache's bound, on a fake clock: an answer is served until one Ttl after its query started, so a slow query
/// cannot stretch how long a revoked key keeps working.
/// </summary>
[Trait("Category", "Security")]
public class Caching_api_keys
{
    private sealed class FakeClock : ISystemClock
    {
        public DateTimeOffset UtcNow { get; set; } = new(2026, 12, 3, 12, 0, 0, TimeSpan.Zero);
    }

    private static readonly ApiKeyPrincipal Alice = new(Guid.NewGuid(), Guid.NewGuid(), "acme", Guid.NewGuid(), "alice", "admin", ["events:write"]);

    [Fact]
    public async Task Should_save_the_query_within_the_ttl_and_ask_again_after_it()
    {
        var clock = new FakeClock();
        var queries = 0;
        using var cache = new ApiKeyCache((_, _) => { queries++; return Task.FromResult<ApiKeyPrincipal?>(Alice); }, clock);

        Assert.Same(Alice, await cache.AuthenticateAsync("ak_alice"));
        clock.UtcNow += ApiKeyCache.Ttl - TimeSpan.FromMilliseconds(1);
        Assert.Same(Alice, await cache.AuthenticateAsync("ak_alice"));
        Assert.Equal(1, queries);

        clock.UtcNow += TimeSpan.FromMilliseconds(1);
        await cache.AuthenticateAsync("ak_alice");
        Assert.Equal(2, queries);
    }

    [Fact]
    public async Task Should_count_the_ttl_from_the_start_of_a_slow_query()
    {
        var clock = new FakeClock();
        var revoked = false;
        using var cache = new ApiKeyCache((_, _) =>
        {
            // The query reads the key before it is revoked, and its answer arrives 0.8 s later.
            var answer = revoked ? null : Alice;
            clock.UtcNow += TimeSpan.FromMilliseconds(800);
            return Task.FromResult(answer);
        }, clock);
        var started = clock.UtcNow;

        Assert.Same(Alice, await cache.AuthenticateAsync("ak_alice"));
        revoked = true;
        clock.UtcNow = started + ApiKeyCache.Ttl;
        Assert.Null(await cache.AuthenticateAsync("ak_alice"));
    }

    [Fact]
    public async Task Should_remember_unknown_keys_and_not_look_up_implausible_ones()
    {
        var queries = 0;
        using var cache = new ApiKeyCache((_, _) => { queries++; return Task.FromResult<ApiKeyPrincipal?>(null); }, new FakeClock());

        Assert.Null(await cache.AuthenticateAsync("ak_made-up"));
        Assert.Null(await cache.AuthenticateAsync("ak_made-up"));
        Assert.Null(await cache.AuthenticateAsync(new string('k', 201)));
        Assert.Null(await cache.AuthenticateAsync(""));
        Assert.Equal(1, queries);
    }

    [Fact]
    public async Task Should_keep_answering_past_its_size_limit()
    {
        var queries = 0;
        using var cache = new ApiKeyCache((_, _) => { queries++; return Task.FromResult<ApiKeyPrincipal?>(null); }, new FakeClock());
        for (var i = 0; i < ApiKeyCache.MaxEntries + 10; i++)
            await cache.AuthenticateAsync("ak_" + i);
        Assert.Null(await cache.AuthenticateAsync("ak_one-more"));
        Assert.Equal(ApiKeyCache.MaxEntries + 11, queries);
    }
}
