using System.Net;

namespace Automations.Testing;

/// <summary>
/// The name tests reach their local webhook receivers by. The URL rule refuses IP literals and localhost whatever the
/// allow-list says, so a receiver on 127.0.0.1 is reached by this machine's host name, which the test allow-list
/// (127.0.0.0/8, ::1/128) admits at send time because it resolves to loopback.
/// </summary>
public static class LocalName
{
    private static readonly Lazy<string> Name = new(Find);

    /// <summary>The machine's host name; throws, saying what to fix, when it does not resolve to a loopback address.</summary>
    public static string Value => Name.Value;

    /// <summary><paramref name="url"/> with its host replaced by <see cref="Value"/>.</summary>
    public static string Url(Uri url) => new UriBuilder(url) { Host = Value }.Uri.ToString();

    private static string Find()
    {
        var name = Dns.GetHostName();
        IPAddress[] addresses;
        try
        {
            addresses = Dns.GetHostAddresses(name);
        }
        catch (System.Net.Sockets.SocketException ex)
        {
            throw new InvalidOperationException(Explain(name, $"it does not resolve ({ex.SocketErrorCode})"), ex);
        }
        // .NET adds the interface addresses to the machine's own name; the sender keeps the allow-listed (loopback) ones.
        if (!addresses.Any(IPAddress.IsLoopback))
            throw new InvalidOperationException(Explain(name, $"it resolves to {string.Join(", ", addresses.Select(a => a.ToString()))}"));
        return name;
    }

    private static string Explain(string name, string problem) =>
        $"Tests reach local webhook receivers by this machine's host name '{name}', which must resolve to a loopback address, " +
        $"but {problem}. Map it in /etc/hosts (a line '127.0.0.1 {name}'), as the CI and developer machines do.";
}
