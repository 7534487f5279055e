using System.Net;
using System.Net.Sockets;
using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

public class Caching_webhook_host_addresses
{
    private sealed class Clock : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = new(2026, 12, 4, 12, 0, 0, TimeSpan.Zero);
        public override DateTimeOffset GetUtcNow() => Now;
    }

    private sealed class Lookups
    {
        public int Calls;
        public Func<string, IPAddress[]> Answer { get; set; } = _ => [IPAddress.Parse("203.0.113.7")];

        public Task<IPAddress[]> LookupAsync(string host, CancellationToken ct)
        {
            Interlocked.Increment(ref Calls);
            return Task.FromResult(Answer(host));
        }
    }

    [Fact]
    public async Task Should_look_a_name_up_once_per_ttl()
    {
        var clock = new Clock();
        var lookups = new Lookups();
        var cache = new HostAddressCache(lookups.LookupAsync, TimeSpan.FromSeconds(30), time: clock);

        await cache.ResolveAsync("hooks.example.com", CancellationToken.None);
        clock.Now += TimeSpan.FromSeconds(29);
        var second = await cache.ResolveAsync("HOOKS.example.com", CancellationToken.None);
        Assert.Equal(1, lookups.Calls);
        Assert.Equal([IPAddress.Parse("203.0.113.7")], second);

        lookups.Answer = _ => [IPAddress.Parse("198.51.100.9")];
        clock.Now += TimeSpan.FromSeconds(2);
        Assert.Equal([IPAddress.Parse("198.51.100.9")], await cache.ResolveAsync("hooks.example.com", CancellationToken.None));
        Assert.Equal(2, lookups.Calls);
    }

    [Fact]
    public async Task Should_not_keep_a_failed_lookup()
    {
        var lookups = new Lookups { Answer = _ => throw new SocketException((int)SocketError.HostNotFound) };
        var cache = new HostAddressCache(lookups.LookupAsync, TimeSpan.FromSeconds(30));

        await Assert.ThrowsAsync<SocketException>(() => cache.ResolveAsync("gone.example.com", CancellationToken.None));
        lookups.Answer = _ => [IPAddress.Parse("203.0.113.8")];
        Assert.Equal([IPAddress.Parse("203.0.113.8")], await cache.ResolveAsync("gone.example.com", CancellationToken.None));
        Assert.Equal(2, lookups.Calls);
    }

    [Fact]
    public async Task Should_share_one_lookup_between_concurrent_requests_and_let_each_cancel_its_own_wait()
    {
        var calls = 0;
        var answer = new TaskCompletionSource<IPAddress[]>();
        var cache = new HostAddressCache((_, _) =>
        {
            Interlocked.Increment(ref calls);
            return answer.Task;
        }, TimeSpan.FromSeconds(30));

        using var impatient = new CancellationTokenSource();
        var waits = Enumerable.Range(0, 8).Select(_ => cache.ResolveAsync("slow.example.com", CancellationToken.None)).ToList();
        var cancelled = cache.ResolveAsync("slow.example.com", impatient.Token);
        await impatient.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);

        answer.SetResult([IPAddress.Parse("203.0.113.9")]);
        foreach (var wait in waits) Assert.Equal([IPAddress.Parse("203.0.113.9")], await wait);
        Assert.Equal(1, calls);
    }

    [Fact]
    public async Task Should_keep_at_most_its_bound_of_names()
    {
        var clock = new Clock();
        var lookups = new Lookups();
        var cache = new HostAddressCache(lookups.LookupAsync, TimeSpan.FromMinutes(5), maxEntries: 100, time: clock);

        for (var i = 0; i < 1000; i++)
        {
            clock.Now += TimeSpan.FromMilliseconds(1);
            await cache.ResolveAsync($"h{i}.example.com", CancellationToken.None);
        }

        Assert.True(cache.Count <= 100, $"{cache.Count} names kept");
        // The newest are the ones kept.
        await cache.ResolveAsync("h999.example.com", CancellationToken.None);
        Assert.Equal(1000, lookups.Calls);
    }

    [Fact]
    public async Task Should_look_up_every_request_with_a_zero_ttl()
    {
        var lookups = new Lookups();
        var cache = new HostAddressCache(lookups.LookupAsync, TimeSpan.Zero);
        for (var i = 0; i < 3; i++) await cache.ResolveAsync("hooks.example.com", CancellationToken.None);
        Assert.Equal(3, lookups.Calls);
        Assert.Equal(0, cache.Count);
    }
}
