using Microsoft.Extensions.Options;

namespace Automations.Testing;

/// <summary>Options that never change, for a component a test builds by hand (Options.Create gives only IOptions).</summary>
public sealed class FixedOptions<T>(T value) : IOptionsMonitor<T> where T : class
{
    public T CurrentValue => value;
    public T Get(string? name) => value;
    public IDisposable? OnChange(Action<T, string?> listener) => null;
}
