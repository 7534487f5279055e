using System.IO.Compression;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.AspNetCore.WebUtilities;

namespace Automations.Console.Session;

/// <summary>
/// A value carried across a redirect in the browser instead of one replica's memory: JSON, gzip, encrypted and signed
/// with Data Protection (replicas share its keys: Console:DataProtectionKeysPath), base64url. One home for the encoding of
/// the console's larger cookies (webhook test results, wizard drafts); the callers bound the size.
/// </summary>
public static class SealedCookie
{
    /// <summary>Browsers keep a cookie of up to 4 KB, name and attributes included: the callers keep theirs under this.</summary>
    public const int MaxChars = 3000;

    public static string Seal<T>(IDataProtector protector, T value)
    {
        using var buffer = new MemoryStream();
        using (var zip = new GZipStream(buffer, CompressionLevel.SmallestSize))
            JsonSerializer.Serialize(zip, value);
        return WebEncoders.Base64UrlEncode(protector.Protect(buffer.ToArray()));
    }

    /// <summary>The value, or null when the cookie was not sealed by this key ring, altered, or is not a <typeparamref name="T"/>.</summary>
    public static T? Open<T>(IDataProtector protector, string raw) where T : class
    {
        try
        {
            var bytes = protector.Unprotect(WebEncoders.Base64UrlDecode(raw));
            using var input = new GZipStream(new MemoryStream(bytes), CompressionMode.Decompress);
            return JsonSerializer.Deserialize<T>(input);
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException or FormatException or InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>
    /// The session key's fingerprint as a cookie keeps it to tell its reader: its first 16 characters, enough to tell
    /// one session from another, and a bounded share of the cookie.
    /// </summary>
    public static string Owner(string fingerprint) => fingerprint.Length <= 16 ? fingerprint : fingerprint[..16];

    /// <param name="maxAge">null for a cookie being deleted (its expiry must be the past, which a MaxAge would override).</param>
    public static CookieOptions Options(HttpContext http, string path, TimeSpan? maxAge) => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = http.Request.IsHttps,
        Path = path,
        MaxAge = maxAge,
        IsEssential = true,
    };
}
