using System.Security.Cryptography;
using System.Text;

namespace Automations.Core.Security;

/// <summary>API keys: 32 random bytes, shown once; only a SHA-256 hash is stored (the key is high-entropy, so a slow hash adds nothing).</summary>
public static class ApiKeys
{
    public const string Prefix = "ak_";

    public static class Scopes
    {
        public const string EventsWrite = "events:write";
        public const string QueuesAgent = "queues:agent";
        public const string Api = "api";
        public static readonly IReadOnlyList<string> All = [Api, EventsWrite, QueuesAgent];
    }

    public static string NewKey() => Prefix + Base64Url(RandomNumberGenerator.GetBytes(32));

    public static string Hash(string key) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(key)));

    /// <summary>What may be shown after creation: the prefix and first characters.</summary>
    public static string Display(string key) => key.Length > 11 ? key[..11] + "…" : key;

    private static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');
}
