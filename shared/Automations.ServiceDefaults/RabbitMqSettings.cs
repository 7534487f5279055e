namespace Automations.ServiceDefaults;

/// <summary>Parsed from ConnectionStrings:RabbitMq, an AMQP URI: amqp://user:password@host:port/vhost.</summary>
public sealed record RabbitMqSettings(string Host, ushort Port, string VirtualHost, string Username, string Password)
{
    public static RabbitMqSettings Parse(string? uri)
    {
        var u = new Uri(string.IsNullOrWhiteSpace(uri) ? "amqp://guest:guest@127.0.0.1:5672/" : uri);
        var userInfo = u.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(u.AbsolutePath.TrimStart('/'));
        return new RabbitMqSettings(
            u.Host,
            (ushort)(u.Port > 0 ? u.Port : 5672),
            vhost.Length == 0 ? "/" : vhost,
            userInfo.Length > 0 && userInfo[0].Length > 0 ? Uri.UnescapeDataString(userInfo[0]) : "guest",
            userInfo.Length > 1 ? Uri.UnescapeDataString(userInfo[1]) : "guest");
    }

    /// <summary>For logs: never the password.</summary>
    public override string ToString() => $"amqp://{Username}@{Host}:{Port}/{Uri.EscapeDataString(VirtualHost)}";
}
