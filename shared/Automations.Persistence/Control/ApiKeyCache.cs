using Automations.Core.Security;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Internal;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>
/// The one cache of API-key lookups, for every service that authenticates a key on each request (Ingestion, the agent
/// API; the Api does not cache, so revocation and role changes apply there at once). It saves the control-schema query
/// of <see cref="ApiKeyQueries.AuthenticateAsync"/> on every request but the first of each second, per key and replica.
/// <para>
/// Revocation bound: an answer is reused until <see cref="Ttl"/> after its query <em>started</em>, so whatever a
/// replica serves at time t was read from the database after t - Ttl: a key revoked (or whose member was removed) is
/// refused on every replica from one Ttl after the revocation committed. Expiry is all it relies on: no message to
/// lose, no broker or listener that must be up.
/// </para>
/// Unknown keys are cached too (a flood of made-up keys costs one query per key and second); the cache holds at most
/// <see cref="MaxEntries"/> answers and simply stops adding when full.
/// </summary>
public sealed class ApiKeyCache : IDisposable
{
    public static readonly TimeSpan Ttl = TimeSpan.FromSeconds(1);
    public const int MaxEntries = 10_000;

    private readonly Func<string, CancellationToken, Task<ApiKeyPrincipal?>> _lookup;
    private readonly ISystemClock _clock;
    private readonly MemoryCache _cache;

    /// <param name="lookup">The database lookup (<see cref="ApiKeyQueries.AuthenticateAsync"/>).</param>
    /// <param name="clock">For tests; the system clock by default.</param>
    public ApiKeyCache(Func<string, CancellationToken, Task<ApiKeyPrincipal?>> lookup, ISystemClock? clock = null)
    {
        _lookup = lookup;
        _clock = clock ?? new SystemClock();
        _cache = new MemoryCache(new MemoryCacheOptions { SizeLimit = MaxEntries, Clock = _clock, ExpirationScanFrequency = TimeSpan.FromSeconds(10) });
    }

    public ApiKeyCache(NpgsqlDataSource dataSource) : this((key, ct) => ApiKeyQueries.AuthenticateAsync(dataSource, key, ct)) { }

    /// <returns>null for an unknown or revoked key.</returns>
    public async Task<ApiKeyPrincipal?> AuthenticateAsync(string presentedKey, CancellationToken ct = default)
    {
        if (!ApiKeyQueries.IsPlausible(presentedKey)) return null;
        var hash = ApiKeys.Hash(presentedKey);
        if (_cache.TryGetValue(hash, out ApiKeyPrincipal? cached)) return cached;
        var started = _clock.UtcNow;
        var principal = await _lookup(presentedKey, ct);
        _cache.Set(hash, principal, new MemoryCacheEntryOptions { AbsoluteExpiration = started + Ttl, Size = 1 });
        return principal;
    }

    public void Dispose() => _cache.Dispose();
}

public static class ApiKeyCacheExtensions
{
    /// <summary>The service's <see cref="ApiKeyCache"/> over its PostgreSQL data source.</summary>
    public static IServiceCollection AddApiKeyCache(this IServiceCollection services) =>
        services.AddSingleton(sp => new ApiKeyCache(sp.GetRequiredService<NpgsqlDataSource>()));
}
