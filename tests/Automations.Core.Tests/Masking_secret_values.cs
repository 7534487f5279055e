using System.Text;
using Automations.Core.Secrets;

namespace Automations.Core.Tests;

/// <summary>What an echoing endpoint answered, with the request's secret values masked in the forms an echo puts them in.</summary>
[Trait("Category", "Security")]
public class Masking_secret_values
{
    private const string M = SecretMask.Mask;

    private static string B64(string s) => Convert.ToBase64String(Encoding.UTF8.GetBytes(s));

    public static TheoryData<string, string[], string, string> Texts => new()
    {
        { "no secrets", [], "Bearer tok-123456", "Bearer tok-123456" },
        { "as is", ["tok-123456"], "Authorization: Bearer tok-123456.", $"Authorization: Bearer {M}." },
        { "every occurrence", ["tok-123456"], "tok-123456tok-123456 tok-123456", $"{M} {M}" },
        { "a short secret wherever it is", ["a1"], "a1 b a1c", $"{M} b {M}c" },
        { "JSON-escaped quote and backslash", ["pa\"ss\\word"], """{"v":"pa\"ss\\word"}""", $$"""{"v":"{{M}}"}""" },
        { ".NET's default JSON escaping", ["pa\"ss+<w>"], """{"v":"pa\u0022ss\u002B\u003Cw\u003E"}""", $$"""{"v":"{{M}}"}""" },
        { "Python's ensure_ascii", ["pässwörd"], """{"v": "p\u00e4ssw\u00f6rd"}""", $$"""{"v": "{{M}}"}""" },
        { ".NET's upper-case hex", ["pässwörd"], """{"v":"p\u00E4ssw\u00F6rd"}""", $$"""{"v":"{{M}}"}""" },
        { "PHP's escaped slash", ["https://x/y/secret"], """{"v":"https:\/\/x\/y\/secret"}""", $$"""{"v":"{{M}}"}""" },
        { "a control character", ["line1\nline2"], """{"v":"line1\nline2"}""", $$"""{"v":"{{M}}"}""" },
        { "the sent body echoed inside JSON", ["pa\"ss"], """{"data":"{\"token\":\"pa\\\"ss\"}"}""", $$"""{"data":"{\"token\":\"{{M}}\"}"}""" },
        { "percent-encoded", ["a b&c=d/e"], "?q=a%20b%26c%3Dd%2Fe&x=1", $"?q={M}&x=1" },
        { "overlapping secrets masked as one", ["XXXXab", "abYYYYYY"], "[XXXXabYYYYYY]", $"[{M}]" },
        { "one secret inside another", ["inner", "outer-inner-outer"], "outer-inner-outer inner", $"{M} {M}" },
        { "the token, the signing secret and a value together", ["tok-1", "whsec_abc", "v4lue"], "tok-1|whsec_abc|v4lue|other", $"{M}|{M}|{M}|other" },
    };

    [Theory]
    [MemberData(nameof(Texts))]
    public void Should_mask_a_secret_in_the_forms_an_echo_uses(string kind, string[] secrets, string text, string expected)
    {
        var masked = new SecretMask(secrets).Apply(text);
        Assert.True(expected == masked, $"{kind}: {masked}");
    }

    /// <summary>Basic auth and other base64: the secret after 0, 1 or 2 other bytes of a group, followed by 0, 1 or 2 more.</summary>
    [Theory]
    [InlineData("", "")]
    [InlineData("user:", "")]
    [InlineData("us:", "!")]
    [InlineData("u:", "!!")]
    [InlineData("x", "?")]
    public void Should_mask_a_secret_inside_base64_at_any_alignment(string before, string after)
    {
        const string token = "ghp_0123456789abcdefXYZ";
        var mask = new SecretMask([token]);
        foreach (var encoded in new[] { B64(before + token + after), B64(before + token + after).Replace('+', '-').Replace('/', '_') })
        {
            var masked = mask.Apply("Basic " + encoded);
            Assert.Contains(M, masked, StringComparison.Ordinal);
            // Left: what encodes the neighbours (and the characters shared with them), never the token's own.
            Assert.True(masked.Replace(M, "", StringComparison.Ordinal).Length <= "Basic ".Length + 4 * ((before.Length + 2) / 3 + (after.Length + 2) / 3) + 4, masked);
        }
    }

    [Fact]
    public void Should_mask_header_names_and_values()
    {
        var masked = new SecretMask(["tok-123456"]).Apply(new Dictionary<string, string> { ["X-Echo-tok-123456"] = "Bearer tok-123456", ["Date"] = "today" });
        Assert.Equal($"Bearer {M}", masked[$"X-Echo-{M}"]);
        Assert.Equal("today", masked["Date"]);
    }

    [Fact]
    public void Should_read_far_enough_past_a_cut_for_the_longest_form()
    {
        var mask = new SecretMask(["pä\"ss"]);
        Assert.Equal(SecretMask.Encodings("pä\"ss").Max(Encoding.UTF8.GetByteCount), mask.MarginBytes);
        Assert.Contains("""p\u00e4\\\"ss""", SecretMask.Encodings("pä\"ss"));
        Assert.Equal(0, new SecretMask([null, ""]).MarginBytes);
    }

    private const string Secret = "s3cr3t-0123456789";

    public static TheoryData<string, string, int, string, bool> Excerpts => new()
    {
        { "a short body", "ok " + Secret, 64, "ok " + M, false },
        { "a body of exactly the limit", new string('.', 60) + "tail", 64, new string('.', 60) + "tail", false },
        { "a secret across the cut: masked, then the mask cut", new string('.', 60) + Secret + "....", 64, new string('.', 60) + "****", true },
        { "a secret starting at the cut: not kept", new string('.', 64) + Secret, 64, new string('.', 64), true },
        { "a secret ending at the cut", new string('.', 64 - Secret.Length) + Secret + "...", 64, new string('.', 64 - Secret.Length) + M, true },
        // Masks shrink the text: what came after the cut must still not be kept (here a secret the read cut in half).
        { "text past the cut after masks shrank the rest", Secret + Secret + Secret + new string('.', 13) + Secret[..9], 64, M + new string('.', 13), true },
        { "a character cut by the limit is dropped", new string('.', 63) + "é and more", 64, new string('.', 63), true },
        { "NUL removed before masking", "s3cr3t-01234\0" + "56789 end", 64, M + " end", false },
    };

    [Theory]
    [MemberData(nameof(Excerpts))]
    public void Should_mask_before_cutting_the_stored_body(string kind, string body, int maxBytes, string expected, bool truncated)
    {
        var mask = new SecretMask([Secret]);
        var bytes = Encoding.UTF8.GetBytes(body);
        var (text, cut) = mask.Excerpt(bytes.AsSpan(0, Math.Min(bytes.Length, maxBytes + mask.MarginBytes)), maxBytes);
        Assert.True(expected == text, $"{kind}: {text}");
        Assert.True(truncated == cut, kind);
        Assert.True(Encoding.UTF8.GetByteCount(text) <= maxBytes, kind);
        Assert.DoesNotContain("s3cr", text, StringComparison.Ordinal);
    }
}
