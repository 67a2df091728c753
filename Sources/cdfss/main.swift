import ArgumentParser
print("placeholder")
