using System.Security.Claims;
using Automations.Console.Api;

namespace Automations.Console.Session;

/// <summary>The signed-in user of this request (claims refreshed from the Api by <see cref="ConsoleSignIn.RecheckKeyAsync"/>) and their team's Api.</summary>
public sealed class TeamSession(IHttpContextAccessor accessor, ApiClient api)
{
    private ClaimsPrincipal User => accessor.HttpContext?.User ?? new ClaimsPrincipal();
    private CancellationToken Aborted => accessor.HttpContext?.RequestAborted ?? CancellationToken.None;

    public bool SignedIn => User.FindFirstValue(ConsoleSignIn.KeyClaim) is { Length: > 0 };
    private string Key => User.FindFirstValue(ConsoleSignIn.KeyClaim) ?? "";
    public string Entity => User.FindFirstValue(ConsoleSignIn.EntityClaim) ?? "";
    public string Role => User.FindFirstValue(ConsoleSignIn.RoleClaim) ?? "";
    public string UserName => User.FindFirstValue(ConsoleSignIn.UserClaim) ?? "";
    public bool IsAdmin => Role == "admin";

    /// <summary>Pages of another team answer 404 (as the Api does), so other teams' names are not revealed.</summary>
    public bool Owns(string? entity) => SignedIn && string.Equals(entity, Entity, StringComparison.Ordinal);

    private string Team(string path) => $"/v1/entities/{ApiClient.Seg(Entity)}{path}";

    public Task<ApiAnswer> GetAsync(string path) => api.GetAsync(Key, Team(path), Aborted);
    public Task<ApiAnswer> PostAsync(string path, object? body) => api.PostAsync(Key, Team(path), body, Aborted);
    public Task<ApiAnswer> PutAsync(string path, object? body) => api.PutAsync(Key, Team(path), body, Aborted);
    public Task<ApiAnswer> DeleteAsync(string path) => api.DeleteAsync(Key, Team(path), Aborted);

    /// <summary>The session key as the Api's key list shows it (its prefix), to mark the key the admin is signed in with.</summary>
    public string KeyDisplay => KeyWords.Display(Key);

    /// <summary>Ties a stored test result to this key without keeping the key.</summary>
    public string KeyFingerprint => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Key)));
}
